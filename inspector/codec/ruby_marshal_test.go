package codec

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// The seeds under testdata/ruby_marshal were written by Ruby 3.1's own
// Marshal.dump and, for rack_redis_*, read back from the Redis that
// Rack::Session::Redis (redis-rack 2.1) wrote to; testdata/gen/marshal.rb
// regenerates them.

func TestRubyMarshalRackRedis(t *testing.T) {
	t.Run("login", func(t *testing.T) {
		// {"user_id"=>7, "cart"=>"x"}: Rack 2.2 stores no session_id key.
		p := decodeBoth(t, FormatRubyMarshal, seed(t, "ruby_marshal/rack_redis_login.bin"))
		wantKeys(t, p.Fields, "user_id", "cart")
		wantInt(t, field(t, p, "user_id"), 7)
		wantString(t, field(t, p, "cart"), "x")
	})
	t.Run("empty", func(t *testing.T) {
		p := decodeBoth(t, FormatRubyMarshal, seed(t, "ruby_marshal/rack_redis_empty.bin"))
		if len(p.Fields) != 0 {
			t.Fatalf("Fields = %v", keys(p.Fields))
		}
	})
	t.Run("rails", func(t *testing.T) {
		p := decodeBoth(t, FormatRubyMarshal, seed(t, "ruby_marshal/rails.bin"))
		wantKeys(t, p.Fields, "session_id", "user_id", "_csrf_token")
		wantString(t, field(t, p, "session_id"), "9f8e7d6c5b4a39281706f5e4d3c2b1a0")
		wantInt(t, field(t, p, "user_id"), 42)
		wantString(t, field(t, p, "_csrf_token"), "q1w2e3r4t5y6u7i8o9p0")
	})
}

func TestRubyMarshalMixed(t *testing.T) {
	// {"session_id"=>"abc", "user_id"=>42, "cart"=>[1,2], :sym=>true,
	//  "f"=>1.5, "big"=>2**70, "nested"=>{"a"=>nil}}
	data := seed(t, "ruby_marshal/mixed.bin")
	p := decodeBoth(t, FormatRubyMarshal, data)
	wantKeys(t, p.Fields, "session_id", "user_id", "cart", "sym", "f", "big", "nested")
	wantString(t, field(t, p, "session_id"), "abc")
	wantInt(t, field(t, p, "user_id"), 42)
	cart := field(t, p, "cart")
	if cart.Kind != KindList || len(cart.Items) != 2 {
		t.Fatalf("cart = %s", cart)
	}
	wantInt(t, cart.Items[0], 1)
	wantInt(t, cart.Items[1], 2)
	if v := field(t, p, "sym"); v.Kind != KindBool || !v.Bool {
		t.Fatalf("sym = %s", v)
	}
	if v := field(t, p, "f"); v.Kind != KindFloat || v.Float != 1.5 {
		t.Fatalf("f = %s", v)
	}
	// 2**70 does not fit an int64: its bignum bytes are shown opaque.
	big := field(t, p, "big")
	if big.Kind != KindOpaque || big.Opaque.Type != FormatRubyMarshal || big.Opaque.Size != 13 || !strings.HasPrefix(big.Opaque.Preview, "00000000  6c 2b 0a") {
		t.Fatalf("big = %s %+v", big, big.Opaque)
	}
	if v, ok := p.Lookup("nested", "a"); !ok || v.Kind != KindNull {
		t.Fatalf("nested.a = %s, %v", v, ok)
	}
}

func TestRubyMarshalObjects(t *testing.T) {
	p := decodeBoth(t, FormatRubyMarshal, seed(t, "ruby_marshal/objects.bin"))
	// Each field as Value.String renders it: objects keep their class as a
	// label and their data; nothing is instantiated.
	want := []struct{ key, rendered string }{
		{"item", `CartItem{"sku": "SKU-1", "qty": 2}`},
		{"point", `Point{"x": 1, "y": -2}`},
		{"at", `"2026-11-23T01:02:03.456789Z"`},
		{"day", `Date{"": [0, 2461043, 0, 0, 0, 2.299161e+06]}`},
		{"klass", `Class::String`},
		{"mod", `Module::Kernel`},
		{"re", `Regexp{"source": "ab+c", "options": 1}`},
		{"ihash", `IndifferentHash{"k": "v"}`},
		{"tagged", `Tagged{"": "tagged"}`},
		{"defaulted", `{"hits": 3}`},
		{"first", `"shared"`},
		{"again", `"shared"`}, // a link to the String of "first"
		{"café", `"crème"`},
		{"sjis", `"abc"`},
		{"binary", `"\xff\x00"`},
		{"ints", `[0, -1, -129, 300, 2147483648, -2147483648, 4611686018427387904, -9223372036854775808, <ruby_marshal 13 bytes>]`},
		{"floats", `[-0, 1e+100, +Inf, 0.3333333333333333]`},
	}
	if len(p.Fields) != len(want) {
		t.Fatalf("fields = %v", keys(p.Fields))
	}
	for i, w := range want {
		e := p.Fields[i]
		if e.Key != w.key || e.Value.String() != w.rendered {
			t.Errorf("field %d = %q: %s, want %q: %s", i, e.Key, e.Value.String(), w.key, w.rendered)
		}
	}
	item := field(t, p, "item")
	if item.Kind != KindObject || item.Class != "CartItem" {
		t.Fatalf("item = %+v", item)
	}
	if v, ok := p.Lookup("item", "qty"); !ok || v.Int != 2 {
		t.Fatalf("item.qty = %s, %v", v, ok)
	}
	if v := field(t, p, "floats"); !math.Signbit(v.Items[0].Float) || !math.IsInf(v.Items[2].Float, 1) {
		t.Fatalf("floats = %s", v)
	}
	if v := field(t, p, "ints"); v.Items[7].Int != math.MinInt64 {
		t.Fatalf("ints = %s", v)
	}
}

// TestRubyMarshalObjectTable checks that object links count Ruby's object
// table as Ruby does: links.bin ends with {key => key}, where key is a
// frozen String written earlier, after one value of every type that takes a
// slot; the Hash key and value are links that must land on that String.
func TestRubyMarshalObjectTable(t *testing.T) {
	p := decodeBoth(t, FormatRubyMarshal, seed(t, "ruby_marshal/links.bin"))
	wantKeys(t, p.Fields, "")
	items := p.Fields[0].Value.Items
	last := items[len(items)-1]
	if last.Kind != KindMap || len(last.Entries) != 1 {
		t.Fatalf("last item = %s", last)
	}
	if e := last.Entries[0]; e.Key != "linked" || e.Value.Kind != KindString || e.Value.Str != "linked" {
		t.Fatalf("entry = %q: %s", e.Key, e.Value)
	}
	wantString(t, items[len(items)-2], "linked")
	if items[0].Str != "2000-01-01T00:00:00Z" {
		t.Fatalf("time = %s", items[0])
	}
}

func TestRubyMarshalLinks(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string // field: Value.String()
	}{
		// Marshal.dump({"a"=>1.5,"b"=>1.5}): equal Floats are one flonum, so
		// Ruby writes the second as a link.
		{"equal floats", "\x04\x08{\x07I\"\x06a\x06:\x06ETf\x081.5I\"\x06b\x06;\x00T@\x07",
			map[string]string{"a": "1.5", "b": "1.5"}},
		// s = "admin".freeze; Marshal.dump({"role"=>s, "was"=>s})
		{"shared frozen string", "\x04\x08{\x07I\"\trole\x06:\x06ETI\"\nadmin\x06;\x00TI\"\bwas\x06;\x00T@\x07",
			map[string]string{"role": `"admin"`, "was": `"admin"`}},
		// a = [1]; Marshal.dump({"x"=>a, "y"=>a}): a shared Array stays a link.
		{"shared array", "\x04\x08{\x07I\"\x06x\x06:\x06ET[\x06i\x06I\"\x06y\x06;\x00T@\x07",
			map[string]string{"x": "[1]", "y": "&2"}},
		// h = {}; h["self"] = h
		{"cycle", "\x04\x08{\x06I\"\tself\x06:\x06ET@\x00", map[string]string{"self": "&0"}},
		// [2**70, 2**70] written with the second as a link
		{"shared bignum", "\x04\x08{\x07:\x06al+\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x40\x00:\x06b@\x06",
			map[string]string{"a": "<ruby_marshal 13 bytes>", "b": "<ruby_marshal 13 bytes>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeBoth(t, FormatRubyMarshal, []byte(tc.in))
			if len(p.Fields) != len(tc.want) {
				t.Fatalf("fields = %v", keys(p.Fields))
			}
			for k, want := range tc.want {
				if got := field(t, p, k).String(); got != want {
					t.Errorf("%s = %s, want %s", k, got, want)
				}
			}
			// A linked copy fingerprints like the value it links to.
			if fs := p.Fields; len(fs) == 2 && fs[0].Value.String() == fs[1].Value.String() &&
				fs[0].Value.Fingerprint() != fs[1].Value.Fingerprint() {
				t.Error("equal values have different fingerprints")
			}
		})
	}
}

func TestRubyMarshalTopLevelNotHash(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"array", string(seed(t, "ruby_marshal/array_top.bin")), `["a", "b", 1]`},
		{"nil", "\x04\x080", "null"},
		{"fixnum", "\x04\x08i\x02\xe8\x03", "1000"},
		{"negative fixnum", "\x04\x08i\xfe\x00\xfc", "-1024"},
		{"string", "\x04\x08I\"\x06x\x06:\x06ET", `"x"`},
		{"symbol with encoding", "\x04\x08I:\x07\xc3\xa9\x06:\x06ET", `"é"`},
		{"object", "\x04\x08o:\x06A\x06:\x07@bT", `A{"b": true}`},
		{"user dump", "\x04\x08u:\x06A\x08raw", `A(<ruby_marshal 3 bytes>)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeBoth(t, FormatRubyMarshal, []byte(tc.in))
			if len(p.Fields) != 1 || p.Fields[0].Key != "" || p.Fields[0].Value.String() != tc.want {
				t.Fatalf("Fields = %+v, want one field \"\" = %s", p.Fields, tc.want)
			}
		})
	}
	t.Run("hash subclass", func(t *testing.T) {
		p := decodeBoth(t, FormatRubyMarshal, []byte("\x04\x08C:\x06H{\x06I\"\x06k\x06:\x06ETi\x06"))
		wantKeys(t, p.Fields, "k")
	})
}

func TestRubyMarshalMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrTruncated},
		{"version only", "\x04\x08", ErrTruncated},
		{"other version", "\x04\x07{\x00", ErrSyntax},
		{"unknown type", "\x04\x08Z", ErrSyntax},
		{"trailing data", "\x04\x080\x00", ErrSyntax},
		{"symlink before any symbol", "\x04\x08;\x00", ErrSyntax},
		{"object link ahead", "\x04\x08[\x06@\x06", ErrSyntax},
		{"negative length", "\x04\x08\"\xfa", ErrSyntax},
		{"string past the end", "\x04\x08\"\x0aabc", ErrTooLarge},
		{"hash count past the end", "\x04\x08{\x04\xff\xff\xff\x7f", ErrTooLarge},
		{"ivars on a fixnum", "\x04\x08Ii\x06\x00", ErrSyntax},
		{"ivars on a symbol link", "\x04\x08[\x07:\x06aI;\x00\x00", ErrSyntax},
		{"class name not a symbol", "\x04\x08o\"\x06A\x00", ErrSyntax},
		{"bad bignum sign", "\x04\x08l*\x06\x01\x00", ErrSyntax},
		{"bad float", "\x04\x08f\x080x1", ErrSyntax},
		{"user class around a fixnum", "\x04\x08C:\x06Ai\x06", ErrSyntax},
		{"cut inside a fixnum", "\x04\x08i\x02\x01", ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatRubyMarshal, []byte(tc.in), Limits{})
			if p != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want error %v", p, err, tc.want)
			}
		})
	}
	t.Run("every prefix of the seeds", func(t *testing.T) {
		for _, data := range seedDir(t, "ruby_marshal") {
			for i := 0; i < len(data); i++ {
				p, err := Decode(FormatRubyMarshal, data[:i], Limits{})
				if err == nil {
					// A prefix may itself be a complete value only if it is
					// the whole input: Marshal values have fixed extents.
					t.Fatalf("prefix %d of %d decoded: %+v", i, len(data), p.Fields)
				}
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix %d of %d: %v, want ErrTruncated", i, len(data), err)
				}
			}
		}
	})
	t.Run("auto detection shows undecodable Marshal as opaque", func(t *testing.T) {
		in := []byte("\x04\x08{\x06I\"\x0asess")
		p, err := Decode(FormatAuto, in, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Format != FormatOpaque || p.Opaque == nil || p.Opaque.Size != len(in) {
			t.Fatalf("Decode(auto) = %+v", p)
		}
	})
}

// TestMarshalLinkCopiesCharged: links to one long String cost their length, so a
// small payload cannot make whoever reads the tree hash gigabytes (260 KB of links to
// a 60 KB string once took FieldFingerprints 1.5 s).
func TestMarshalLinkCopiesCharged(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("\x04\x08[\x03\xa1\x86\x01") // an array of 100,001 elements
	b.WriteString("\"\x02\x60\xea" + strings.Repeat("x", 60000))
	for range 100000 {
		b.WriteString("@\x06") // a link to object 1, the string
	}
	_, err := Decode(FormatRubyMarshal, []byte(b.String()), Limits{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("100,000 links to a 60 KB string: err %v, want ErrTooLarge", err)
	}
	// A few links to a short string are what real sessions hold.
	p, err := Decode(FormatRubyMarshal, []byte("\x04\x08[\x08\"\x06a@\x06@\x06"), Limits{})
	if err != nil || len(p.Fields) != 1 {
		t.Fatalf("three copies of a short string: %v, %+v", err, p)
	}
}
