package main

import (
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// TestPayloadDecodes checks that generated sessions are valid php-handler sessions of
// the requested size, that they differ per write, and that keys are phpredis keys.
func TestPayloadDecodes(t *testing.T) {
	for _, size := range []int{300, 500, 501, 1000, 4096} {
		g, err := newPayloadGen(size)
		if err != nil {
			t.Fatal(err)
		}
		if size >= 500 && (g.Size() < size-1 || g.Size() > size) {
			t.Errorf("size %d: got %d bytes", size, g.Size())
		}
		a, b := make([]byte, g.Size()), make([]byte, g.Size())
		g.fill(a, 1, 7)
		g.fill(b, 2, 7)
		if string(a) == string(b) {
			t.Errorf("size %d: two writes produced the same payload", size)
		}
		for _, data := range [][]byte{a, b} {
			for _, f := range []codec.Format{codec.FormatPHP, codec.FormatAuto} {
				p, err := codec.Decode(f, data, codec.Limits{})
				if err != nil {
					t.Fatalf("size %d, %s: %v\n%s", size, f, err, data)
				}
				if p.Format != codec.FormatPHP || len(p.Fields) < 10 {
					t.Fatalf("size %d, %s: decoded as %s with %d fields", size, f, p.Format, len(p.Fields))
				}
			}
		}
	}
	m := framework.NewMatcher(framework.Builtin())
	seen := map[string]bool{}
	key := make([]byte, keyLen)
	for k := uint64(0); k < 10000; k++ {
		appendKey(key, k)
		s := string(key)
		if seen[s] {
			t.Fatalf("duplicate key %s", s)
		}
		seen[s] = true
		mt, ok := m.Match(s)
		if !ok || mt.Framework.Name != "php" || len(mt.StoreID) != 26 || strings.Trim(mt.StoreID, sidAlphabet) != "" {
			t.Fatalf("key %s: match %+v %v", s, mt, ok)
		}
	}
}

func TestCountDistinct(t *testing.T) {
	if got := countDistinct(1000, 1000, distinctKeys); got != 1000 {
		t.Errorf("distinct: %d", got)
	}
	if got := countDistinct(100000, 1000, randomKeys(1000)); got != 1000 {
		t.Errorf("random over 1000 keys: %d", got)
	}
}
