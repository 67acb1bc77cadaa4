package codec

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// field returns the top-level field named key or fails the test.
func field(t *testing.T, p *Payload, key string) Value {
	t.Helper()
	v, ok := p.Lookup(key)
	if !ok {
		t.Fatalf("no field %q in %v", key, keys(p.Fields))
	}
	return v
}

func keys(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

func wantKeys(t *testing.T, es []Entry, want ...string) {
	t.Helper()
	if got := strings.Join(keys(es), ","); got != strings.Join(want, ",") {
		t.Fatalf("keys = %s, want %s", got, strings.Join(want, ","))
	}
}

func wantString(t *testing.T, v Value, want string) {
	t.Helper()
	if v.Kind != KindString || v.Str != want {
		t.Fatalf("got %s, want string %q", v, want)
	}
}

func wantInt(t *testing.T, v Value, want int64) {
	t.Helper()
	if v.Kind != KindInt || v.Int != want {
		t.Fatalf("got %s, want int %d", v, want)
	}
}

// phpHandlers are the four session.serialize_handler values, each with the
// testdata directory php-cli wrote its seeds to.
var phpHandlers = []Format{FormatPHP, FormatPHPBinary, FormatPHPSerialize, FormatIgbinary}

func TestDecodePHPHandlersLogin(t *testing.T) {
	for _, f := range phpHandlers {
		t.Run(string(f), func(t *testing.T) {
			p, err := Decode(f, seed(t, string(f)+"/login.bin"), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != f {
				t.Fatalf("Format = %s", p.Format)
			}
			wantKeys(t, p.Fields, "user_id", "username", "logged_in", "csrf_token", "last_login", "balance", "nothing", "roles")
			wantInt(t, field(t, p, "user_id"), 42)
			wantString(t, field(t, p, "username"), "zoë")
			if v := field(t, p, "logged_in"); v.Kind != KindBool || !v.Bool {
				t.Fatalf("logged_in = %s", v)
			}
			wantInt(t, field(t, p, "last_login"), 1763772000)
			if v := field(t, p, "balance"); v.Kind != KindFloat || v.Float != -12.5 {
				t.Fatalf("balance = %s", v)
			}
			if v := field(t, p, "nothing"); v.Kind != KindNull {
				t.Fatalf("nothing = %s", v)
			}
			roles := field(t, p, "roles")
			wantKeys(t, roles.Entries, "0", "1")
			wantString(t, roles.Entries[1].Value, "viewer")
			if v, ok := p.Lookup("roles", "0"); !ok || v.Str != "editor" {
				t.Fatalf("Lookup(roles, 0) = %s, %v", v, ok)
			}
		})
	}
}

func TestDecodePHPHandlersObjects(t *testing.T) {
	for _, f := range phpHandlers {
		t.Run(string(f), func(t *testing.T) {
			p, err := Decode(f, seed(t, string(f)+"/objects.bin"), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			user := field(t, p, "user")
			if user.Kind != KindObject || user.Class != "User" {
				t.Fatalf("user = %s", user)
			}
			// Protected and private names lose their NUL-delimited markers.
			wantKeys(t, user.Entries, "id", "email", "passwordHash", "roles")
			wantString(t, user.Entries[1].Value, "ada@example.com")

			if v := field(t, p, "same_user"); v.Kind != KindRef || v.Bool {
				t.Fatalf("same_user = %+v, want an object back-reference", v)
			}
			if v := field(t, p, "list_alias"); v.Kind != KindRef || !v.Bool {
				t.Fatalf("list_alias = %+v, want a PHP & reference", v)
			}
			cart := field(t, p, "cart")
			if cart.Kind != KindObject || cart.Class != "Cart" || cart.Opaque == nil || cart.Opaque.Type != FormatPHPCustom {
				t.Fatalf("cart = %+v, want an object with custom serialization", cart)
			}
			if cart.Opaque.Size != len(`{"sku-1":2,"sku-2":1}`) || !strings.Contains(cart.Opaque.Preview, `{"sku-1":2,"sku-2":1}`[:14]) {
				t.Fatalf("cart opaque = %+v", cart.Opaque)
			}
			prefs := field(t, p, "prefs")
			if prefs.Class != "Prefs" {
				t.Fatalf("prefs = %s", prefs)
			}
			wantKeys(t, prefs.Entries, "t", "l")
			if st := field(t, p, "status"); st.Kind != KindObject || st.Class != "Status" || st.Str != "Locked" {
				t.Fatalf("status = %+v", st)
			}
			fl := field(t, p, "floats").Entries
			if !math.IsInf(fl[0].Value.Float, 1) || !math.IsInf(fl[1].Value.Float, -1) || !math.IsNaN(fl[2].Value.Float) ||
				fl[3].Value.Float != 0.1 || !math.Signbit(fl[4].Value.Float) || fl[5].Value.Float != 1e100 || fl[6].Value.Float != 3 {
				t.Fatalf("floats = %s", field(t, p, "floats"))
			}
			ints := field(t, p, "ints").Entries
			if ints[0].Value.Int != math.MaxInt64 || ints[1].Value.Int != math.MinInt64 || ints[5].Value.Int != 65536 {
				t.Fatalf("ints = %s", field(t, p, "ints"))
			}
			wantString(t, field(t, p, "binary"), "nul\x00byte\xff\xfe")
			if v := field(t, p, "empty"); v.Kind != KindMap || len(v.Entries) != 0 {
				t.Fatalf("empty = %s", v)
			}
			if v, ok := p.Lookup("nested", "a", "b", "c", "d", "e"); !ok || v.Str != "deep" {
				t.Fatalf("nested = %s", v)
			}
			wantKeys(t, field(t, p, "sparse").Entries, "3", "-7", "010")
			wantString(t, field(t, p, "utf8"), "日本語 ✓ émoji 🎉")
		})
	}
}

func TestDecodePHP5UndefinedMarkers(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		file   string
		keys   []string
	}{
		{"php handler", FormatPHP, "php/php5_undefined.bin", []string{"gone", "user", "also_gone"}},
		{"php_binary handler", FormatPHPBinary, "php_binary/php5_undefined.bin", []string{"gone", "user"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.format, seed(t, tc.file), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			wantKeys(t, p.Fields, tc.keys...)
			if p.Fields[0].Value.Kind != KindNull {
				t.Fatalf("undefined variable = %s", p.Fields[0].Value)
			}
			wantString(t, field(t, p, "user"), "ada")
		})
	}
	t.Run("PHP 7 name starting with !", func(t *testing.T) {
		p, err := Decode(FormatPHP, []byte(`!bang|i:1;x|N;`), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		wantKeys(t, p.Fields, "!bang", "x")
		wantInt(t, p.Fields[0].Value, 1)
	})
}

func TestPHPValueGrammar(t *testing.T) {
	tests := []struct {
		in   string
		want string // Value.String()
	}{
		{`N;`, `null`},
		{`b:0;`, `false`},
		{`i:-17;`, `-17`},
		{`i:+5;`, `5`},
		{`d:1.0E+25;`, `1e+25`},
		{`d:-INF;`, `-Inf`},
		{`s:0:"";`, `""`},
		{`s:5:"a"b;c";`, `"a\"b;c"`},
		{`S:3:"\41b\0a";`, `"Ab\n"`},
		{`a:0:{}`, `{}`},
		{`a:2:{i:0;s:1:"x";s:1:"k";a:1:{i:0;b:1;}}`, `{"0": "x", "k": {"0": true}}`},
		{`O:8:"stdClass":1:{s:1:"a";i:1;}`, `stdClass{"a": 1}`},
		{"O:1:\"A\":2:{s:4:\"\x00*\x00p\";i:1;s:4:\"\x00A\x00q\";i:2;}", `A{"p": 1, "q": 2}`},
		{`C:11:"ArrayObject":5:{x:i:0}`, `ArrayObject(<php_custom 5 bytes>)`},
		{`E:7:"Suit:Hi";`, `Suit::Hi`},
		{`a:2:{i:0;a:0:{}i:1;r:2;}`, `{"0": {}, "1": &2}`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := decodePHPValue(tc.in, newBudget(Limits{}))
			if err != nil {
				t.Fatal(err)
			}
			if got := v.String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPHPMalformed(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		in     string
		want   error
	}{
		{"empty value", FormatPHPSerialize, ``, ErrTruncated},
		{"string longer than input", FormatPHPSerialize, `s:999999999:"x";`, ErrTooLarge},
		{"string length runs past end", FormatPHPSerialize, `s:999999999:"x";`, ErrTruncated},
		{"huge array count", FormatPHPSerialize, `a:2147483647:{`, ErrTooLarge},
		{"array count beyond int64", FormatPHPSerialize, `a:99999999999999999999999:{}`, ErrTooLarge},
		{"truncated string", FormatPHPSerialize, `a:1:{i:0;s:5:"ab`, ErrTruncated},
		{"truncated array", FormatPHPSerialize, `a:1:{i:0;N;`, ErrTruncated},
		{"truncated object", FormatPHPSerialize, `a:1:{i:0;O:3:"Foo":1:{s:1:"a";N;`, ErrTruncated},
		{"integer overflow", FormatPHPSerialize, `a:1:{i:0;i:99999999999999999999;}`, ErrSyntax},
		{"bad bool", FormatPHPSerialize, `a:1:{i:0;b:2;}`, ErrSyntax},
		{"unknown type", FormatPHPSerialize, `a:1:{i:0;x:1;}`, ErrSyntax},
		{"null key", FormatPHPSerialize, `a:1:{N;s:3:"abc";}`, ErrSyntax},
		{"bad double", FormatPHPSerialize, `a:1:{i:0;d:0x1p3;}`, ErrSyntax},
		{"missing quote", FormatPHPSerialize, `a:1:{i:0;s:1:"ab;}`, ErrSyntax},
		{"not an array", FormatPHPSerialize, `i:5;`, ErrSyntax},
		{"trailing data", FormatPHPSerialize, `a:0:{}junk`, ErrSyntax},
		{"custom length past end", FormatPHPSerialize, `a:1:{i:0;C:1:"A":99999:{x}}`, ErrTooLarge},
		{"enum without case", FormatPHPSerialize, `a:1:{i:0;E:4:"Suit";}`, ErrSyntax},
		{"php: name without bar", FormatPHP, `user`, ErrSyntax},
		{"php: truncated value", FormatPHP, `user|s:3:"ad`, ErrTruncated},
		{"php: missing value", FormatPHP, `user|`, ErrTruncated},
		{"php: garbage value", FormatPHP, `user|hello`, ErrSyntax},
		{"php_binary: name past end", FormatPHPBinary, "\x7fab", ErrTruncated},
		{"php_binary: truncated value", FormatPHPBinary, "\x04usera:1:{", ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.format, []byte(tc.in), Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if p != nil {
				t.Fatalf("payload %+v returned with an error", p)
			}
			if o := OpaqueOf([]byte(tc.in), FormatOpaque, false); o.Size != len(tc.in) {
				t.Fatalf("OpaqueOf size = %d", o.Size)
			}
		})
	}
}

func TestPHPErrorNamesTheField(t *testing.T) {
	_, err := Decode(FormatPHP, []byte(`ok|i:1;broken|s:9:"x";`), Limits{})
	if err == nil || !strings.Contains(err.Error(), `php session: field "broken"`) {
		t.Fatalf("err = %v, want the field named", err)
	}
}

func TestDecodeIgbinaryHandcrafted(t *testing.T) {
	hdr := "\x00\x00\x00\x02"
	tests := []struct {
		name string
		in   string
		want string // String() of the fields as a map
		err  error
	}{
		{"string ids", hdr + "\x14\x02\x11\x01a\x11\x02hi\x11\x01b\x0e\x01", `{"a": "hi", "b": "hi"}`, nil},
		{"object id", hdr + "\x14\x02\x11\x01o\x17\x01C\x14\x01\x11\x01p\x06\x07\x11\x01q\x1a\x01\x14\x00", `{"o": C{"p": 7}, "q": C{}}`, nil},
		{"objref and ref", hdr + "\x14\x03\x11\x01o\x17\x01C\x14\x00\x11\x01r\x22\x00\x11\x01s\x25\x06\x09", `{"o": C{}, "r": &0, "s": 9}`, nil},
		{"long widths", hdr + "\x14\x03\x06\x00\x09\x01\x00\x06\x01\x0b\x00\x01\x00\x00\x06\x02\x21\x80\x00\x00\x00\x00\x00\x00\x00", `{"0": -256, "1": -65536, "2": -9223372036854775808}`, nil},
		{"v1 header", "\x00\x00\x00\x01\x14\x01\x11\x01k\x05", `{"k": true}`, nil},
		{"null key skipped", hdr + "\x14\x02\x00\x11\x01k\x04", `{"k": false}`, nil},
		{"string id out of range", hdr + "\x14\x01\x11\x01a\x0e\x05", "", ErrSyntax},
		{"array count past end", hdr + "\x16\xff\xff\xff\xff", "", ErrTooLarge},
		{"string past end", hdr + "\x14\x01\x11\x01a\x13\x7f\xff\xff\xff", "", ErrTooLarge},
		{"not an array", hdr + "\x06\x01", "", ErrSyntax},
		{"unknown type", hdr + "\x14\x01\x11\x01a\x7e", "", ErrSyntax},
		{"trailing data", hdr + "\x14\x00\x00", "", ErrSyntax},
		{"short header", "\x00\x00\x00\x02", "", ErrTruncated},
		{"64-bit positive out of range", hdr + "\x14\x01\x11\x01a\x20\x80\x00\x00\x00\x00\x00\x00\x00", "", ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatIgbinary, []byte(tc.in), Limits{})
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := (Value{Kind: KindMap, Entries: p.Fields}).String(); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
