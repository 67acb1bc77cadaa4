package codec

import (
	"math"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func str(s string) Value { return Value{Kind: KindString, Str: s} }
func num(n int64) Value  { return Value{Kind: KindInt, Int: n} }

func TestFingerprint(t *testing.T) {
	distinct := []struct {
		name string
		a, b Value
	}{
		{"string vs int", str("1"), num(1)},
		{"split strings", Value{Kind: KindList, Items: []Value{str("ab")}}, Value{Kind: KindList, Items: []Value{str("a"), str("b")}}},
		{"key vs value boundary", Value{Kind: KindMap, Entries: []Entry{{"ab", str("c")}}}, Value{Kind: KindMap, Entries: []Entry{{"a", str("bc")}}}},
		{"map vs object", Value{Kind: KindMap}, Value{Kind: KindObject, Class: "stdClass"}},
		{"class", Value{Kind: KindObject, Class: "A"}, Value{Kind: KindObject, Class: "B"}},
		{"enum case", Value{Kind: KindObject, Class: "S", Str: "A"}, Value{Kind: KindObject, Class: "S", Str: "B"}},
		{"r vs R", Value{Kind: KindRef, Int: 2}, Value{Kind: KindRef, Int: 2, Bool: true}},
		{"null vs false", Value{Kind: KindNull}, Value{Kind: KindBool}},
		{"opaque beyond preview", Value{Kind: KindOpaque, Opaque: OpaqueOf(make([]byte, 300), FormatOpaque, false)},
			Value{Kind: KindOpaque, Opaque: OpaqueOf(append(make([]byte, 299), 1), FormatOpaque, false)}},
	}
	for _, tc := range distinct {
		t.Run(tc.name, func(t *testing.T) {
			if tc.a.Fingerprint() == tc.b.Fingerprint() {
				t.Fatalf("%s and %s share a fingerprint", tc.a, tc.b)
			}
		})
	}
	t.Run("equal values", func(t *testing.T) {
		a, _ := Decode(FormatPHP, seed(t, "php/objects.bin"), Limits{})
		b, _ := Decode(FormatPHP, seed(t, "php/objects.bin"), Limits{})
		for i := range a.Fields {
			if a.Fields[i].Value.Fingerprint() != b.Fields[i].Value.Fingerprint() {
				t.Fatalf("field %s: fingerprints differ", a.Fields[i].Key)
			}
		}
		if (Value{Kind: KindFloat, Float: math.NaN()}).Fingerprint() != (Value{Kind: KindFloat, Float: -math.NaN()}).Fingerprint() {
			t.Fatal("NaNs differ")
		}
	})
	t.Run("stable across releases", func(t *testing.T) {
		// Fingerprints may be persisted or compared across processes: this
		// golden value changes only if the walk changes, which needs a
		// deliberate decision.
		v := Value{Kind: KindMap, Entries: []Entry{{"user", num(42)}, {"roles", Value{Kind: KindList, Items: []Value{str("admin")}}}}}
		const golden uint64 = 0x52f686f6bd23d8b3
		if got := v.Fingerprint(); got != golden {
			t.Fatalf("Fingerprint = %#x, want %#x", got, golden)
		}
	})
}

func TestFieldFingerprints(t *testing.T) {
	before, err := Decode(FormatPHP, []byte(`a|i:1;b|s:1:"x";c|a:1:{i:0;i:2;}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := Decode(FormatPHP, []byte(`a|i:1;b|s:1:"y";c|a:1:{i:0;i:2;}d|N;`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	fb, fa := before.FieldFingerprints(), after.FieldFingerprints()
	var changed []string
	for k, v := range fa {
		if fb[k] != v {
			changed = append(changed, k)
		}
	}
	if len(changed) != 2 || (changed[0] != "b" && changed[1] != "b") {
		t.Fatalf("changed = %v, want b and d", changed)
	}
	opaque := []byte{0xc1, 0x00, 0xff, 0x10} // no decoder's
	op, _ := Decode(FormatAuto, opaque, Limits{})
	if fp := op.FieldFingerprints(); len(fp) != 1 || fp[""] != xxhash.Sum64(opaque) {
		t.Fatalf("opaque FieldFingerprints = %v", fp)
	}
	var nilPayload *Payload
	if len(nilPayload.FieldFingerprints()) != 0 {
		t.Fatal("nil payload has fingerprints")
	}
}

func TestLookup(t *testing.T) {
	p, err := Decode(FormatJSON, []byte(`{"passport":{"user":"42"},"list":[{"a":1},{"a":2}]}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"passport", "user"}, `"42"`, true},
		{[]string{"list", "1", "a"}, `2`, true},
		{[]string{"list", "2"}, ``, false},
		{[]string{"list", "-1"}, ``, false},
		{[]string{"passport", "user", "x"}, ``, false},
		{[]string{"missing"}, ``, false},
		{nil, ``, false},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.path, "."), func(t *testing.T) {
			v, ok := p.Lookup(tc.path...)
			if ok != tc.ok || (ok && v.String() != tc.want) {
				t.Fatalf("Lookup = %s, %v; want %s, %v", v, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestValueString(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		want string
	}{
		{"control bytes escaped", str("\x1b[31mred\x07"), `"\x1b[31mred\a"`},
		{"long string cut", str(strings.Repeat("x", 100)), `"` + strings.Repeat("x", maxRenderString) + `"…`},
		{"utf8 not split", str(strings.Repeat("é", 40)), `"` + strings.Repeat("é", 24) + `"…`},
		{"opaque", Value{Kind: KindOpaque, Opaque: &Opaque{Type: FormatJavaSerial, Size: 12}}, `<java_serialized 12 bytes>`},
		{"odd class quoted", Value{Kind: KindObject, Class: "A\x1bB"}, `"A\x1bB"{}`},
		{"ref", Value{Kind: KindRef, Int: 3}, `&3`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		big := Value{Kind: KindList}
		for i := 0; i < 1000; i++ {
			big.Items = append(big.Items, str("item"))
		}
		if s := big.String(); len(s) > maxRender+len("…") || !strings.HasSuffix(s, "…") {
			t.Fatalf("len = %d: %s", len(s), s)
		}
	})
}

func TestOpaqueOf(t *testing.T) {
	data := []byte("\xac\xed\x00\x05sr\x00\x0ejava.lang.Long;")
	o := OpaqueOf(data, FormatJavaSerial, true)
	want := "00000000  ac ed 00 05 73 72 00 0e  6a 61 76 61 2e 6c 61 6e  |....sr..java.lan|\n" +
		"00000010  67 2e 4c 6f 6e 67 3b                              |g.Long;|\n"
	if o.Preview != want || o.Size != len(data) || !o.Truncated || o.Type != FormatJavaSerial || o.Digest != xxhash.Sum64(data) {
		t.Fatalf("OpaqueOf = %+v\npreview:\n%s", o, o.Preview)
	}
	big := OpaqueOf(make([]byte, 10_000), FormatGob, false)
	if lines := strings.Count(big.Preview, "\n"); lines != PreviewBytes/16 || big.Size != 10_000 {
		t.Fatalf("preview has %d lines, size %d", lines, big.Size)
	}
	if OpaqueOf(nil, FormatOpaque, false).Preview != "" {
		t.Fatal("empty input has a preview")
	}
}
