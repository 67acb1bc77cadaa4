package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

func TestRef(t *testing.T) {
	id := "q3hgl8v5c0m2k7ut3ohs1f2km9"
	sum := sha256.Sum256([]byte(id))
	if got, want := Ref(id), hex.EncodeToString(sum[:])[:12]; got != want {
		t.Errorf("Ref = %s, want %s", got, want)
	}
}

func TestMask(t *testing.T) {
	cases := map[string]string{
		"q3hgl8v5c0m2k7ut3ohs1f2km9": "q3hg…m9",
		"short":                      "…",
		"ünïcødé-session-id":         "ünïc…id",
	}
	for in, want := range cases {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
	if ShowID("q3hgl8v5c0m2k7ut3ohs1f2km9", true) != "q3hgl8v5c0m2k7ut3ohs1f2km9" {
		t.Error("reveal should show the full id")
	}
}

func TestEventJSONFields(t *testing.T) {
	ttl := int64(1440)
	ev := &Event{Type: TypeEvent, Seq: 7, Kind: KindRegenerated, Backend: "redis",
		Session: &SessionInfo{Ref: "abc", ID: "q3hg…m9", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"},
		From:    &SessionInfo{Ref: "def"}, Evidence: EvidencePayload, TTL: &ttl, AuthAdded: true}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"type":"event"`, `"seq":7`, `"kind":"regenerated"`, `"ttl_s":1440`, `"evidence":"payload"`, `"key_prefix":"PHPREDIS_SESSION:"`, `"from":{"ref":"def"`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s: %s", want, s)
		}
	}
	for _, internal := range []string{"AuthAdded", "Authenticated", "auth"} {
		if strings.Contains(s, internal) {
			t.Errorf("internal field %s leaked into JSON: %s", internal, s)
		}
	}
}
