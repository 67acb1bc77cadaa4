package redisstore

import (
	"testing"
	"unsafe"
)

// TestKeyInternSharesStrings: every notification of a key gets the same string, which
// the tracker's tables compare without reading it; a key forgotten after two
// generations costs a new string, nothing else.
func TestKeyInternSharesStrings(t *testing.T) {
	var k keyIntern
	buf := []byte("PHPREDIS_SESSION:intern0000000000000000001")
	a := k.get(buf)
	buf[len(buf)-1] = '2'
	other := k.get(buf)
	buf[len(buf)-1] = '1'
	b := k.get(buf)
	if a != "PHPREDIS_SESSION:intern0000000000000000001" || other != "PHPREDIS_SESSION:intern0000000000000000002" {
		t.Fatalf("strings %q %q: the buffer's later contents leaked into them", a, other)
	}
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error("two notifications of one key got two strings")
	}
	if n := testing.AllocsPerRun(100, func() { _ = k.get(buf) }); n != 0 {
		t.Errorf("a known key allocated %v times", n)
	}
	// A key in use survives generations; the intern never holds more than two.
	for i := range 2*internGeneration + 10 {
		k.get([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
		if i%1000 == 0 {
			k.get([]byte("PHPREDIS_SESSION:intern0000000000000000001"))
		}
	}
	if got := k.get([]byte("PHPREDIS_SESSION:intern0000000000000000001")); unsafe.StringData(got) != unsafe.StringData(a) {
		t.Error("a key in use was forgotten")
	}
	if len(k.cur) > internGeneration || len(k.prev) > internGeneration {
		t.Errorf("generations of %d and %d names, bound %d", len(k.cur), len(k.prev), internGeneration)
	}
}
