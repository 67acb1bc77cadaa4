package files

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSessionID feeds file names (attacker-influenced: a client picks the id PHP
// writes when use_strict_mode is off) to the name parser. An accepted id must name a
// file inside the directory and round-trip; Read must never open anything else.
func FuzzSessionID(f *testing.F) {
	for _, s := range []string{"sess_q3hgl8v5c0m2k7ut3ohs1f2km9", "sess_", "sess_../x", "sess_a/b", "sess_a,b-c", "sess_\x00", "x", "sess_" + strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, ok := sessionID(name)
		if !ok {
			return
		}
		if id == "" || name != Prefix+id {
			t.Fatalf("sessionID(%q) = %q: does not round-trip", name, id)
		}
		p := filepath.Join("/d", Prefix+id)
		if filepath.Dir(p) != "/d" || filepath.Base(p) != name {
			t.Fatalf("id %q leaves the directory: %s", id, p)
		}
	})
}
