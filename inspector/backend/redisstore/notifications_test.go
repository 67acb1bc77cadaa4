package redisstore

import (
	"errors"
	"strings"
	"testing"
)

func TestMissingFlags(t *testing.T) {
	cases := []struct{ current, want, missing string }{
		{"", RequiredFlags, "Eg$hxe"},
		{"Ex", RequiredFlags, "g$he"},
		{"AE", RequiredFlags, ""},  // A covers g$hxe
		{"AK", RequiredFlags, "E"}, // keyspace only: keyevent channels are needed
		{"KEA", RequiredFlags + "n", "n"},
		{"Eg$hxen", RequiredFlags + "n", ""},
	}
	for _, tc := range cases {
		if got := MissingFlags(tc.current, tc.want); got != tc.missing {
			t.Errorf("MissingFlags(%q, %q) = %q, want %q", tc.current, tc.want, got, tc.missing)
		}
	}
}

func TestMergeKeepsCurrentFlags(t *testing.T) {
	merged := MergeFlags("Kl", MissingFlags("Kl", RequiredFlags))
	if merged != "KlEg$hxe" {
		t.Errorf("merged %q", merged)
	}
	if cmd := FixCommand(merged); cmd != "redis-cli CONFIG SET notify-keyspace-events 'KlEg$hxe'" {
		t.Errorf("fix %q", cmd)
	}
	hints := strings.Join(ManagedHints(merged), "\n")
	for _, want := range []string{"ElastiCache", "parameter group", "Azure", "Memorystore", "gcloud redis instances update"} {
		if !strings.Contains(hints, want) {
			t.Errorf("managed hints lack %q", want)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := map[string]string{
		"redis://:s3cret@host:6379/0":     "redis://:xxxxx@host:6379/0",
		"redis://user:s3cret@host:6379/0": "redis://user:xxxxx@host:6379/0",
		"redis://host:6379/0":             "redis://host:6379/0",
		"unix:///run/redis.sock?db=1":     "unix:///run/redis.sock?db=1",
		"rediss://u:p%40ss@host:6380/2":   "rediss://u:xxxxx@host:6380/2",
	}
	for in, want := range cases {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(Redact(in), "s3cret") {
			t.Errorf("Redact(%q) leaks the password", in)
		}
	}
}

func TestExplainConnError(t *testing.T) {
	cases := []struct{ err, want string }{
		{"WRONGPASS invalid username-password pair or user is disabled.", "refused the credentials"},
		{"NOAUTH Authentication required.", "requires a password"},
		{"dial tcp 127.0.0.1:1: connect: connection refused", "connection refused"},
		{"dial tcp: lookup nohost: no such host", "cannot resolve"},
		{"tls: failed to verify certificate", "TLS handshake"},
	}
	for _, tc := range cases {
		got := ExplainConnError("redis://h:1/0", "h:1", errors.New(tc.err))
		if !strings.Contains(got, tc.want) || strings.Contains(got, "\n") {
			t.Errorf("ExplainConnError(%q) = %q, want one line with %q", tc.err, got, tc.want)
		}
	}
}
