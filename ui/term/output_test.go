package term

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func sampleEvent() *model.Event {
	ttl := int64(1440)
	return &model.Event{Type: model.TypeEvent, Seq: 3, Time: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC), Kind: model.KindRegenerated,
		Session: &model.SessionInfo{Ref: "a1b2c3d4e5f6", ID: "q3hg…m9", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"},
		From:    &model.SessionInfo{Ref: "0f0f0f0f0f0f", ID: "zzzz…11"}, Evidence: "payload", OldKept: true, TTL: &ttl, Backend: "redis"}
}

func TestJSONOneLinePerObject(t *testing.T) {
	var buf bytes.Buffer
	ch := make(chan model.Object, 3)
	ch <- sampleEvent()
	ch <- &model.Finding{Type: model.TypeFinding, Rule: "fixation", Evidence: []string{"x <b>"}}
	ch <- &model.Status{Type: model.TypeStatus, State: model.StateLive}
	close(ch)
	if err := Copy(NewJSON(&buf), ch); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
	}
	if !strings.Contains(lines[1], "x <b>") {
		t.Errorf("JSON output should not HTML-escape: %s", lines[1])
	}
}

func TestTextLine(t *testing.T) {
	var out, diag bytes.Buffer
	w := NewText(&out, &diag, false)
	if err := w.Write(sampleEvent()); err != nil {
		t.Fatal(err)
	}
	_ = w.Flush()
	line := out.String()
	for _, want := range []string{"regenerated", "q3hg…m9", "a1b2c3d4e5f6", "php", "ttl 1440s", "from zzzz…11", "payload, old kept"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "\x1b[") {
		t.Error("colour without a terminal")
	}
	w = NewText(&out, &diag, true)
	_ = w.Write(sampleEvent())
	_ = w.Flush()
	if !strings.Contains(out.String(), "\x1b[") {
		t.Error("no colour when asked for it")
	}
}

func TestTextNotificationHelpGoesToStderrOnce(t *testing.T) {
	var out, diag bytes.Buffer
	w := NewText(&out, &diag, false)
	st := &model.Status{Type: model.TypeStatus, Node: "h:1", State: model.StateConnecting,
		Notifications: &model.Notifications{Flags: "", Missing: "Eg$hxe", Fix: "redis-cli CONFIG SET notify-keyspace-events 'Eg$hxe'", Hints: []string{"AWS ElastiCache: ..."}}}
	_ = w.Write(st)
	_ = w.Write(st)
	_ = w.Flush()
	if out.Len() != 0 {
		t.Errorf("status went to stdout: %q", out.String())
	}
	if strings.Count(diag.String(), "CONFIG SET") != 1 || !strings.Contains(diag.String(), "--configure-notifications") {
		t.Errorf("help:\n%s", diag.String())
	}
}

// createdEvent is a birth the store could not pair: n sessions ended in its window.
func createdEvent(n int) *model.Event {
	e := &model.Event{Type: model.TypeEvent, Seq: 9, Time: time.Date(2026, 11, 22, 1, 2, 4, 0, time.UTC), Kind: model.KindCreated,
		Session: &model.SessionInfo{Ref: "c0ffeec0ffee", ID: "newi…d1", Framework: "laravel"}, Backend: "redis"}
	for i := range n {
		e.Candidates = append(e.Candidates, model.SessionInfo{Ref: fmt.Sprintf("%012x", i+1), ID: fmt.Sprintf("old%d…xx", i), Framework: "laravel"})
	}
	return e
}

// TestTextCandidates: a birth with candidates reads as undecided, lists refs (never
// ids) up to a bound, and a birth without candidates says nothing of the kind.
func TestTextCandidates(t *testing.T) {
	for _, tc := range []struct {
		name     string
		n        int
		want     []string
		wantNone []string
	}{
		{"none", 0, nil, []string{"maybe", "one of", "undecided"}},
		{"three", 3, []string{"maybe from one of 3 (undecided): 000000000001, 000000000002, 000000000003"},
			[]string{"more", "old0…xx"}},
		{"seven", 7, []string{"maybe from one of 7 (undecided): 000000000001, 000000000002, 000000000003, 000000000004, 000000000005 and 2 more"},
			[]string{"000000000006", "old0…xx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, diag bytes.Buffer
			w := NewText(&out, &diag, false)
			if err := w.Write(createdEvent(tc.n)); err != nil {
				t.Fatal(err)
			}
			_ = w.Flush()
			line := out.String()
			if !strings.Contains(line, "created") || !strings.Contains(line, "c0ffeec0ffee") {
				t.Errorf("line %q lacks the kind or the session", line)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("line %q lacks %q", line, w)
				}
			}
			for _, w := range tc.wantNone {
				if strings.Contains(line, w) {
					t.Errorf("line %q has %q", line, w)
				}
			}
		})
	}
}

// TestJSONCandidates: --json carries the candidates as session objects (ref and masked
// id), and leaves the field out when there are none.
func TestJSONCandidates(t *testing.T) {
	var buf bytes.Buffer
	w := NewJSON(&buf)
	for _, n := range []int{2, 0} {
		if err := w.Write(createdEvent(n)); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.Flush()
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var with struct {
		Kind       string `json:"kind"`
		Candidates []struct {
			Ref string `json:"ref"`
			ID  string `json:"id"`
		} `json:"candidates"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &with); err != nil {
		t.Fatal(err)
	}
	if with.Kind != "created" || len(with.Candidates) != 2 || with.Candidates[1].Ref != "000000000002" || with.Candidates[1].ID != "old1…xx" {
		t.Errorf("candidates in JSON: %s", lines[0])
	}
	if strings.Contains(lines[1], "candidates") {
		t.Errorf("a birth without candidates carries the field: %s", lines[1])
	}
}
