package cli

import (
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/framework"
)

// TestPrefixFlagWinsAndSaysSo: a --prefix with a builtin row's prefix is obeyed and
// the user is told once which row it replaces; an empty prefix comes with one warning.
func TestPrefixFlagWinsAndSaysSo(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		key      string
		want     string
		notes    int
		noteHas  string
		wantSkip bool
	}{
		{name: "django-redis-sessions", args: []string{"watch", "--redis", "redis://h/0", "--prefix", "django=session:"},
			key: "session:k2x9q0v7w1hz3l8m5n4b6c0d2f1g7j9", want: "django", notes: 1, noteHas: "not as flask (built in)"},
		{name: "no builtin row replaced", args: []string{"watch", "--redis", "redis://h/0", "--prefix", "myapp=myapp:sess:"},
			key: "myapp:sess:abc", want: "myapp"},
		{name: "koa bare keys", args: []string{"watch", "--redis", "redis://h/0", "--prefix", "koa="},
			key: "3b9a8f1e-2c4d-4e6f-8a0b-1c2d3e4f5a6b", want: "koa", notes: 1, noteHas: "UUID"},
		{name: "koa alone", args: []string{"watch", "--redis", "redis://h/0", "--no-default-prefixes", "--prefix", "koa="},
			key: "cache:home", wantSkip: true, notes: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkParse(t, tc.args, nil, func(t *testing.T, c Config) {
				if len(c.prefixNotes) != tc.notes {
					t.Fatalf("notes %q, want %d", c.prefixNotes, tc.notes)
				}
				if tc.noteHas != "" && !strings.Contains(c.prefixNotes[0], tc.noteHas) {
					t.Errorf("note %q lacks %q", c.prefixNotes[0], tc.noteHas)
				}
				m, ok := framework.NewMatcher(c.frameworks).Match(tc.key)
				if tc.wantSkip {
					if ok {
						t.Errorf("%q matched %s", tc.key, m.Framework.Name)
					}
					return
				}
				if !ok || m.Framework.Name != tc.want {
					t.Errorf("%q: got %+v %v, want %s", tc.key, m.Framework, ok, tc.want)
				}
			}, "")
		})
	}
}
