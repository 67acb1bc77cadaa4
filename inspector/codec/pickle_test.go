package codec

import (
	"errors"
	"strings"
	"testing"
)

// The seeds under testdata/pickle were written by Debian 12's Python 3.11:
// django_redis_*.bin read back from the Redis that Django 3.2's cache
// session backend with django-redis 5.2 wrote to, flask_session_login.bin
// from Flask-Session 0.3.2 after a Flask-Login login, and the others by
// pickle.dumps; testdata/gen/pickles.py regenerates them.

// wantRendered checks each named field as Value.String renders it.
func wantRendered(t *testing.T, p *Payload, want []struct{ key, rendered string }) {
	t.Helper()
	if len(p.Fields) != len(want) {
		t.Fatalf("fields = %v", keys(p.Fields))
	}
	for i, w := range want {
		e := p.Fields[i]
		if e.Key != w.key || e.Value.String() != w.rendered {
			t.Errorf("field %d = %q: %s, want %q: %s", i, e.Key, e.Value.String(), w.key, w.rendered)
		}
	}
}

const djangoDatetime = `datetime.datetime{"args": ["\a\xea\v\x16\x01\x00\x00\x00\x00\x00"]}`

func TestPickleFrameworks(t *testing.T) {
	t.Run("django-redis login", func(t *testing.T) {
		p := decodeBoth(t, FormatPickle, seed(t, "pickle/django_redis_login.bin"))
		wantRendered(t, p, []struct{ key, rendered string }{
			{"_auth_user_id", `"42"`},
			{"_auth_user_backend", `"django.contrib.auth.backends.ModelBackend"`},
			{"_auth_user_hash", `"3f1c0ffee0ddba11f00d5ca1ab1e5eed5b3f1c0ffee0ddba"…`},
			{"cart", `{"items": [["sku-1", 2]], "tags": ["gift"]}`},
			// A REDUCE of datetime.datetime: nothing is called, the class is
			// a label and its argument (the packed date) is kept as data.
			{"last_seen", djangoDatetime},
		})
		wantString(t, field(t, p, "_auth_user_id"), "42")
		dt := field(t, p, "last_seen")
		if dt.Kind != KindObject || dt.Class != "datetime.datetime" {
			t.Fatalf("last_seen = %+v", dt)
		}
		if v, ok := p.Lookup("cart", "items", "0", "1"); !ok || v.Int != 2 {
			t.Fatalf("cart.items.0.1 = %s, %v", v, ok)
		}
	})
	t.Run("django-redis anonymous", func(t *testing.T) {
		p := decodeBoth(t, FormatPickle, seed(t, "pickle/django_redis_anonymous.bin"))
		wantKeys(t, p.Fields, "visits")
		wantInt(t, field(t, p, "visits"), 1)
	})
	t.Run("flask-session login", func(t *testing.T) {
		p := decodeBoth(t, FormatPickle, seed(t, "pickle/flask_session_login.bin"))
		wantKeys(t, p.Fields, "_permanent", "_user_id", "_fresh", "_id", "csrf_token", "when", "prefs")
		wantString(t, field(t, p, "_user_id"), "42")
		wantString(t, field(t, p, "csrf_token"), "079dc00f41384c3fa5d9b3c2d1e0f9a8b7c6d5e4")
		if s := field(t, p, "when").String(); s != djangoDatetime {
			t.Fatalf("when = %s", s)
		}
		if s := field(t, p, "prefs").String(); s != `{"langs": ["en", "fr"], "seen": [1, 2]}` {
			t.Fatalf("prefs = %s", s)
		}
	})
}

func TestPickleProtocols(t *testing.T) {
	// The same session dict pickled with protocols 0 to 5 decodes to the
	// same fields: protocols 0 to 2 write bytes through _codecs.encode,
	// which is read as the bytes it stands for.
	var first map[string]uint64
	for proto := '0'; proto <= '5'; proto++ {
		t.Run("protocol "+string(proto), func(t *testing.T) {
			p := decodeBoth(t, FormatPickle, seed(t, "pickle/django_p"+string(proto)+".bin"))
			wantKeys(t, p.Fields, "_auth_user_id", "_auth_user_backend", "_auth_user_hash", "cart", "last_seen")
			wantString(t, field(t, p, "_auth_user_id"), "42")
			if s := field(t, p, "last_seen").String(); s != djangoDatetime {
				t.Fatalf("last_seen = %s", s)
			}
			fp := p.FieldFingerprints()
			if first == nil {
				first = fp
			}
			for k, v := range first {
				if fp[k] != v {
					t.Errorf("field %q differs from protocol 0", k)
				}
			}
		})
	}
}

func TestPickleTypes(t *testing.T) {
	p := decodeBoth(t, FormatPickle, seed(t, "pickle/types.bin"))
	wantRendered(t, p, []struct{ key, rendered string }{
		{"none", "null"},
		{"t", "true"},
		{"f", "false"},
		{"ints", `[0, 1, -1, 255, 256, 65535, 65536, -2147483648, 2147483648, 9223372036854775807, -9223372036854775808, <pickle 11 bytes>, <pickle 15 bytes>]`},
		{"floats", `[0.5, -0, 1e+100, +Inf]`},
		{"str", `"café ☕ 😀"`},
		{"bytes", `"\x00\xff"`},
		{"bytearray", `builtins.bytearray{"args": ["ab"]}`},
		{"tuple", `[1, "two", [3]]`},
		{"set", `[7]`},
		{"frozenset", `["x"]`},
		{"nested", `{"a": [{"b": {"c": [1, 2, {"d": null}]}}]}`},
		{"first", `["shared"]`},
		{"again", `&40`}, // the same list, met again through the memo
		{"when", `datetime.datetime{"args": ["\a\xea\v\x16\x01\x02\x03\x06\xf8U", datetime.timezone{"args": [datetime.timedelta{"args": [0, 0, 0]}]}]}`},
		{"day", `datetime.date{"args": ["\a\xea\x01\x02"]}`},
		{"delta", `datetime.timedelta{"args": [1, 5, 0]}`},
		{"id", `uuid.UUID{"int": <pickle 18 bytes>}`},
		{"ordered", `collections.OrderedDict{"k": "v"}`},
		{"counts", `collections.defaultdict{"args": [builtins.int{}], "hits": 3}`},
		{"cart", `shop.models.Cart{"items": ["sku-1", "sku-2"], "total": decimal.Decimal{"args": ["12.50"]}}`},
		{"slotted", `shop.models.Slotted{"a": 1, "b": "two"}`},
		{"1", `"int key"`},
		{"bk", `"bytes key"`},
		{"[1, 2]", `"tuple key"`},
	})
	if v, ok := p.Lookup("cart", "items", "1"); !ok || v.Str != "sku-2" {
		t.Fatalf("cart.items.1 = %s, %v", v, ok)
	}
	for _, name := range []string{"types_p0.bin", "types_p2.bin"} {
		t.Run(name, func(t *testing.T) {
			p := decodeBoth(t, FormatPickle, seed(t, "pickle/"+name))
			want := map[string]string{
				"tuple": `[1, "two"]`,
				"set":   `__builtin__.set{"args": [[7]]}`,
				"when":  `datetime.datetime{"args": ["\a\xea\x01\x02\x00\x00\x00\x00\x00\x00"]}`,
				"s":     `"it's \"q\" \\ \n"`,
				"u":     `"café ☕"`,
				"f":     "0.25",
				"cart":  `shop.models.Cart{"items": ["sku-1", "sku-2"], "total": decimal.Decimal{"args": ["12.50"]}}`,
				"b":     `"\x00\xff"`,
			}
			for k, w := range want {
				if got := field(t, p, k).String(); got != w {
					t.Errorf("%s = %s, want %s", k, got, w)
				}
			}
			if big := field(t, p, "big"); big.Kind != KindOpaque || big.Opaque.Type != FormatPickle {
				t.Errorf("big = %s", big)
			}
		})
	}
}

func TestPickleHandmade(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string // field: Value.String()
	}{
		{"top-level list", string(seed(t, "pickle/list_top.bin")), map[string]string{"": `["a", 1, null]`}},
		{"protocol 0 scalar", "I42\n.", map[string]string{"": "42"}},
		{"protocol 0 bools", "(I01\nI00\nl.", map[string]string{"": "[true, false]"}},
		{"protocol 0 long", "L-12L\n.", map[string]string{"": "-12"}},
		{"protocol 0 float", "F1.5\n.", map[string]string{"": "1.5"}},
		{"protocol 0 escapes", "S'a\\x41\\101\\n\\\\'\n.", map[string]string{"": `"aAA\n\\"`}},
		{"raw unicode escape", "V\\u00e9\\U0001f600\xe9\n.", map[string]string{"": `"é😀é"`}},
		{"dict from a mark", "(S'k'\nI1\nd.", map[string]string{"k": "1"}},
		// d = {}; d["self"] = d
		{"cycle", "\x80\x04}\x94\x8c\x04self\x94h\x00s.", map[string]string{"self": "&0"}},
		// [x, x] with x a memoized dict: the second is a reference.
		{"shared dict", "\x80\x04]\x94(}\x94h\x01e.", map[string]string{"": "[{}, &1]"}},
		// A string met again is its value.
		{"shared string", "\x80\x04]\x94(\x8c\x01s\x94h\x01e.", map[string]string{"": `["s", "s"]`}},
		{"global", "\x80\x02cos\nsystem\n\x85.", map[string]string{"": "[os.system{}]"}},
		// What an attack looks like: os.system("id") is a placeholder.
		{"reduce is not called", "cos\nsystem\n(S'id'\ntR.", map[string]string{"": `os.system{"args": ["id"]}`}},
		{"inst", "(S'a'\nimod\nCls\n.", map[string]string{"": `mod.Cls{"args": ["a"]}`}},
		{"obj", "\x80\x02(cmod\nCls\nK\x01o.", map[string]string{"": `mod.Cls{"args": [1]}`}},
		{"newobj_ex", "\x80\x04\x8c\x01m\x8c\x01C\x93)}\x8c\x01k\x88s\x92.", map[string]string{"": `m.C{"kwargs": {"k": true}}`}},
		{"build with non-dict state", "\x80\x02cm\nC\n)\x81K\x07b.", map[string]string{"": `m.C{"state": 7}`}},
		{"ext", "\x80\x02\x82\x05.", map[string]string{"": `copyreg.extension{"code": 5}`}},
		{"persistent id", "Pabc\n.", map[string]string{"": `persistent_id{"id": "abc"}`}},
		{"frame and readonly buffer", "\x80\x05\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x01\x98.", map[string]string{"": "1"}},
		{"pop and dup", "\x80\x02K\x01K\x022\x30\x30.", map[string]string{"": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatPickle, []byte(tc.in), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Fields) != len(tc.want) {
				t.Fatalf("fields = %v", keys(p.Fields))
			}
			for k, want := range tc.want {
				if got := field(t, p, k).String(); got != want {
					t.Errorf("%q = %s, want %s", k, got, want)
				}
			}
		})
	}
}

func TestPickleMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrTruncated},
		{"no STOP", "\x80\x04N", ErrTruncated},
		{"unknown opcode", "\x80\x04\xff.", ErrSyntax},
		{"protocol 6", "\x80\x06N.", ErrSyntax},
		{"trailing data", "N.N", ErrSyntax},
		{"two values at STOP", "NN.", ErrSyntax},
		{"open mark at STOP", "(N.", ErrSyntax},
		{"STOP on an empty stack", ".", ErrSyntax},
		{"pop below a mark", "N(R.", ErrSyntax},
		{"get before put", "\x80\x02h\x00.", ErrSyntax},
		{"setitems without a mark", "}u.", ErrSyntax},
		{"odd setitems", "}(Nu.", ErrSyntax},
		{"append to a dict", "}Na.", ErrSyntax},
		{"build on a list", "]Nb.", ErrSyntax},
		{"stack_global of ints", "\x80\x04K\x01K\x02\x93.", ErrSyntax},
		{"negative binstring", "T\xff\xff\xff\xff.", ErrSyntax},
		{"bad quoted string", "S'abc\n.", ErrSyntax},
		{"bad int", "Ixyz\n.", ErrSyntax},
		{"bad float", "Fxyz\n.", ErrSyntax},
		{"out-of-band buffer", "\x80\x05\x97.", ErrSyntax},
		{"line without newline", "I12", ErrTruncated},
		// Declared lengths are checked against the input before anything
		// is allocated or read.
		{"huge binunicode8", "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7fab.", ErrTooLarge},
		{"huge binbytes", "\x80\x03B\xff\xff\xff\xffab.", ErrTooLarge},
		{"huge long4", "\x80\x02\x8b\xff\xff\xff\x7f\x01.", ErrTooLarge},
		{"huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN.", ErrTooLarge},
		{"short binstring", "U\x05ab.", ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatPickle, []byte(tc.in), Limits{})
			if p != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want error %v", p, err, tc.want)
			}
		})
	}
	t.Run("every prefix of the seeds", func(t *testing.T) {
		for _, data := range seedDir(t, "pickle") {
			for i := 0; i < len(data); i++ {
				p, err := Decode(FormatPickle, data[:i], Limits{})
				if err == nil {
					t.Fatalf("prefix %d of %d decoded: %+v", i, len(data), p.Fields)
				}
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("prefix %d of %d: %v, want ErrTruncated", i, len(data), err)
				}
			}
		}
	})
	t.Run("auto detection shows undecodable pickle as opaque", func(t *testing.T) {
		in := []byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94")
		p, err := Decode(FormatAuto, in, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Format != FormatOpaque || p.Opaque == nil || p.Opaque.Size != len(in) {
			t.Fatalf("Decode(auto) = %+v", p)
		}
	})
}

func TestPickleLimits(t *testing.T) {
	lim := Limits{MaxDepth: 8, MaxNodes: 100}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"nested marks", strings.Repeat("(", 9) + "N" + strings.Repeat("l", 9) + ".", ErrTooDeep},
		// Lists nested through the memo, with no marks: each new list is
		// appended to the one before, so the depth comes from mutation.
		{"nested through appends", nestedAppends(10), ErrTooDeep},
		{"too many values", "\x80\x04(" + strings.Repeat("N", 101) + "l.", ErrTooLarge},
		// One dict of 20 entries copied into an object again and again by
		// BINGET and BUILD, a few bytes each.
		{"repeated build", "\x80\x04cm\nC\n)\x81}\x94(" + dictItems(20) + "ub" + strings.Repeat("h\x00b", 5) + ".", ErrTooLarge},
		{"memo too large", "\x80\x04N" + strings.Repeat("\x94", 101) + ".", ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatPickle, []byte(tc.in), lim)
			if p != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want error %v", p, err, tc.want)
			}
			// Auto detection reports the limit rather than falling back to
			// opaque: the bytes were recognised.
			if tc.in[0] == 0x80 {
				if _, err := Decode(FormatAuto, []byte(tc.in), lim); !isLimitError(err) {
					t.Fatalf("auto: %v, want a limit error", err)
				}
			}
		})
	}
	t.Run("within the limits", func(t *testing.T) {
		in := strings.Repeat("(", 7) + "N" + strings.Repeat("l", 7) + "."
		if _, err := Decode(FormatPickle, []byte(in), lim); err != nil {
			t.Fatal(err)
		}
	})
}

// dictItems is n pickled int keys with None values.
func dictItems(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		sb.WriteString("K" + string(rune(i)) + "N")
	}
	return sb.String()
}

// nestedAppends builds a protocol 4 pickle of n lists, each appended to the
// one memoized before it: [[[...]]] without any MARK.
func nestedAppends(n int) string {
	var sb strings.Builder
	sb.WriteString("\x80\x04]\x94") // memo 0: the outer list
	for i := 1; i < n; i++ {
		// BINGET i-1 (the enclosing list), EMPTY_LIST, MEMOIZE as i, APPEND,
		// POP the enclosing list.
		sb.WriteString("h" + string(rune(i-1)) + "]\x94a0")
	}
	sb.WriteString(".")
	return sb.String()
}

func TestSniffPickleAndText(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Format
	}{
		{"django-redis", seed(t, "pickle/django_redis_login.bin"), FormatPickle},
		{"flask-session", seed(t, "pickle/flask_session_login.bin"), FormatPickle},
		{"protocol 0", seed(t, "pickle/django_p0.bin"), FormatPickle},
		{"protocol 1", seed(t, "pickle/django_p1.bin"), FormatPickle},
		// Opens like a protocol 0 pickle and ends with '.', but does not
		// parse: not claimed.
		{"text that opens like protocol 0", []byte("(dp is what we said."), FormatOpaque},
		{"protocol header, broken body", []byte("\x80\x04}\x94(."), FormatOpaque},
		// Printable text is never gob, however its bytes happen to frame.
		{"quote and e's", []byte("'" + strings.Repeat("e", 39)), FormatOpaque},
		{"django signed session", []byte("eyJfYXV0aF91c2VyX2lkIjoiNDIifQ:1vQ2Xb:Zk3lQ0vI8xW2aYbR7mN1pTqA0b9c8d7e6f5g4h3i2j1"), FormatDjangoSigned},
		{"django signed compressed session", []byte(".eJxVjEEOgjAQRe_StSGdAtPi0r1nIENnKqi0hsLKeHdrQkzc_rz3XqqnfRv7PcvaT6zOCtTpfxsoPCR-Ab9TvOUqpLit01B9keqgubomludlZ_8CI-WxaAo2gbqAvg4YuNEOB2VFrbYMyOEKGCTZOnAPSFDYeKEy-kXf4G3P1-vw:1vQ2Xb:Zk3lQ0vI8xW2aYbR7mN1pTq"), FormatOpaque},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sniff(tc.in); got != tc.want {
				t.Fatalf("Sniff = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("gob framing of the text", func(t *testing.T) {
		// The 40-byte value frames as one gob message (length 0x27, then a
		// type id); only the text check keeps it from being gob.
		in := []byte("'" + strings.Repeat("e", 39))
		if !isPrintable(in) {
			t.Fatal("not printable")
		}
		if isPrintable(seed(t, "gob/redistore.bin")) {
			t.Fatal("a gob stream reads as text")
		}
	})
}

// TestPickleMemoCopiesCharged: memo GETs of one long string cost its length, as
// Marshal's links do.
func TestPickleMemoCopiesCharged(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("\x80\x04]\x94(") // list, memoized, MARK
	b.WriteString("X\x60\xea\x00\x00" + strings.Repeat("x", 60000) + "\x94")
	for range 100000 {
		b.WriteString("h\x01") // BINGET 1: the string again
	}
	b.WriteString("e.") // APPENDS, STOP
	_, err := Decode(FormatPickle, []byte(b.String()), Limits{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("100,000 GETs of a 60 KB string: err %v, want ErrTooLarge", err)
	}
}
