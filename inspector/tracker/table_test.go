package tracker

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestSessionTableMatchesMaps runs random puts, removes and lookups against the table
// and against the two maps it replaced (key -> session, ref -> latest session), and
// compares every answer. Small key and ref pools make replacements, shared refs,
// long runs and wrap-around at the array's end common; reservations give arrays of
// any length.
func TestSessionTableMatchesMaps(t *testing.T) {
	for _, tc := range []struct {
		name       string
		keys, refs int
		ops        int
	}{
		{"few keys, shared refs", 40, 10, 20000},
		{"grows past several doublings", 3000, 2500, 60000},
		{"one ref for all", 200, 1, 20000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.keys)))
			tab := newSessionTable()
			byKey := map[string]*session{}
			byRef := map[[6]byte]*session{}
			var made []*session // every session ever put, some long removed
			check := func(op int) {
				t.Helper()
				if tab.len() != len(byKey) {
					t.Fatalf("op %d: len %d, want %d", op, tab.len(), len(byKey))
				}
				for k, s := range byKey {
					if got := tab.get(k); got != s {
						t.Fatalf("op %d: get(%q) = %p, want %p", op, k, got, s)
					}
				}
				for r, s := range byRef {
					if got := tab.getRef(r); got != s {
						t.Fatalf("op %d: getRef(%x) = %p, want %p", op, r, got, s)
					}
				}
				seen := map[*session]bool{}
				for s := range tab.all() {
					if seen[s] || byKey[s.key] != s {
						t.Fatalf("op %d: all yielded %q twice or not held", op, s.key)
					}
					seen[s] = true
				}
				if len(seen) != len(byKey) {
					t.Fatalf("op %d: all yielded %d sessions, want %d", op, len(seen), len(byKey))
				}
			}
			for op := 0; op < tc.ops; op++ {
				switch r := rng.IntN(10); {
				case r < 5:
					s := &session{key: fmt.Sprintf("k%d", rng.IntN(tc.keys))}
					s.ref[0], s.ref[5] = byte(rng.IntN(tc.refs)), byte(rng.IntN(tc.refs)>>8)
					tab.put(s)
					byKey[s.key], byRef[s.ref] = s, s
					made = append(made, s)
				case r < 9 && len(made) > 0:
					s := made[rng.IntN(len(made))] // maybe removed, maybe replaced since
					tab.remove(s)
					delete(byKey, s.key)
					if byRef[s.ref] == s {
						delete(byRef, s.ref)
					}
				case r == 9 && rng.IntN(20) == 0:
					// Reservations make array lengths other than powers of two.
					tab.reserve(len(byKey) + rng.IntN(2*tc.keys))
				default:
					k := fmt.Sprintf("k%d", rng.IntN(tc.keys))
					if tab.get(k) != byKey[k] {
						t.Fatalf("op %d: get(%q) differs", op, k)
					}
				}
				if op%97 == 0 || tc.keys <= 40 {
					check(op)
				}
			}
			check(tc.ops)
		})
	}
}

// TestSessionTableRemoveWhileIterating removes sessions as all yields them, as a
// resync does with the sessions it no longer finds: every session is yielded once
// and the ones kept stay reachable.
func TestSessionTableRemoveWhileIterating(t *testing.T) {
	for _, n := range []int{1, 47, 48, 1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			tab := newSessionTable()
			for i := 0; i < n; i++ {
				tab.put(&session{key: fmt.Sprintf("k%d", i), ref: [6]byte{byte(i), byte(i >> 8)}})
			}
			seen := map[string]bool{}
			for s := range tab.all() {
				if seen[s.key] {
					t.Fatalf("%q yielded twice", s.key)
				}
				seen[s.key] = true
				if len(s.key)%2 == 0 {
					tab.remove(s)
				}
			}
			if len(seen) != n {
				t.Fatalf("yielded %d of %d", len(seen), n)
			}
			kept := 0
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("k%d", i)
				got := tab.get(k)
				if len(k)%2 == 0 {
					if got != nil || tab.getRef([6]byte{byte(i), byte(i >> 8)}) != nil {
						t.Fatalf("%q still held after its removal", k)
					}
					continue
				}
				if got == nil || tab.getRef(got.ref) != got {
					t.Fatalf("%q lost", k)
				}
				kept++
			}
			if tab.len() != kept {
				t.Fatalf("len %d, want %d", tab.len(), kept)
			}
		})
	}
}

// TestSessionFitsSizeClass guards the session's 64-byte allocation: one field more
// and a million sessions take 16 MB more (the next size class is 80 bytes).
func TestSessionFitsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(session{}); size > 64 {
		t.Errorf("session is %d bytes, want at most 64 (move rarely used fields beside the table, as regenRefs)", size)
	}
}
