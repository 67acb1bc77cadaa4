package codec

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"math"
	"net"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// The payloads under testdata/gob were written by gorilla/sessions 1.4 and
// boj/redistore 1.4's GobSerializer (testdata/gobgen regenerates them; their
// map order changes with every run), except redistore.bin, written by
// encoding/gob alone (testdata/gen/gengo.go).

// wantFieldSet checks the payload's field names, in any order: gob writes a
// map in Go's iteration order.
func wantFieldSet(t *testing.T, p *Payload, want ...string) {
	t.Helper()
	got := keys(p.Fields)
	sort.Strings(got)
	want = append([]string(nil), want...)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("fields = %v, want %v", got, want)
	}
}

func TestGobGorillaSessions(t *testing.T) {
	t.Run("encoding/gob map", func(t *testing.T) {
		p := decodeBoth(t, FormatGob, seed(t, "gob/redistore.bin"))
		wantFieldSet(t, p, "user_id", "name")
		wantInt(t, field(t, p, "user_id"), 42)
		wantString(t, field(t, p, "name"), "ada")
	})
	t.Run("anonymous", func(t *testing.T) {
		p := decodeBoth(t, FormatGob, seed(t, "gob/anonymous.bin"))
		wantFieldSet(t, p, "cart")
		wantInt(t, field(t, p, "cart"), 3)
	})
	t.Run("login", func(t *testing.T) {
		p := decodeBoth(t, FormatGob, seed(t, "gob/login.bin"))
		wantFieldSet(t, p, "cart", "user_id", "api_token")
		wantInt(t, field(t, p, "cart"), 3)
		wantInt(t, field(t, p, "user_id"), 42)
		wantString(t, field(t, p, "api_token"), "tok-Zq81-SECRET-7c4e")
	})
	t.Run("flashes", func(t *testing.T) {
		// session.AddFlash keeps a []interface{} under "_flash" or the given key.
		p := decodeBoth(t, FormatGob, seed(t, "gob/flash.bin"))
		wantFieldSet(t, p, "_flash", "notice")
		for key, want := range map[string]string{"_flash": "saved", "notice": "again"} {
			v := field(t, p, key)
			if v.Kind != KindList || v.Class != "[]interface {}" || len(v.Items) != 1 {
				t.Fatalf("%s = %s (class %q)", key, v, v.Class)
			}
			wantString(t, v.Items[0], want)
		}
	})
}

func TestGobGorillaTypes(t *testing.T) {
	p := decodeBoth(t, FormatGob, seed(t, "gob/types.bin"))
	wantFieldSet(t, p, "name", "visits", "remember", "ratio", "user", "tags", "prefs",
		"login_at", "local_at", "raw", "big", "nothing", "7")
	wantString(t, field(t, p, "name"), "ada")
	wantInt(t, field(t, p, "visits"), -7)
	if v := field(t, p, "remember"); v.Kind != KindBool || !v.Bool {
		t.Fatalf("remember = %s", v)
	}
	if v := field(t, p, "ratio"); v.Kind != KindFloat || v.Float != 0.25 {
		t.Fatalf("ratio = %s", v)
	}
	// A registered struct: its registered name, every field in declaration
	// order, the zero-valued Admin (which gob leaves out) shown as false.
	user := field(t, p, "user")
	if user.Kind != KindObject || user.Class != "main.User" {
		t.Fatalf("user = %s (class %q)", user, user.Class)
	}
	if got, want := strings.Join(keys(user.Entries), ","), "ID,Name,Password,Admin,Roles,Address"; got != want {
		t.Fatalf("user fields = %s, want %s", got, want)
	}
	wantInt(t, mustLookup(t, p, "user", "ID"), 42)
	wantString(t, mustLookup(t, p, "user", "Name"), "ada")
	wantString(t, mustLookup(t, p, "user", "Password"), "hunter2")
	if v := mustLookup(t, p, "user", "Admin"); v.Kind != KindBool || v.Bool {
		t.Fatalf("user.Admin = %s", v)
	}
	wantString(t, mustLookup(t, p, "user", "Roles", "1"), "viewer")
	if v := mustLookup(t, p, "user", "Address"); v.Kind != KindObject || v.Class != "Address" {
		t.Fatalf("user.Address = %s (class %q)", v, v.Class)
	}
	wantString(t, mustLookup(t, p, "user", "Address", "City"), "Paris")
	wantString(t, mustLookup(t, p, "user", "Address", "Zip"), "")

	if v := field(t, p, "tags"); v.Kind != KindList || v.Class != "[]string" || v.String() != `["a", "b"]` {
		t.Fatalf("tags = %s (class %q)", v, v.Class)
	}
	if v := field(t, p, "prefs"); v.Kind != KindMap || v.Class != "map[string]interface {}" || len(v.Entries) != 3 {
		t.Fatalf("prefs = %s (class %q)", v, v.Class)
	}
	wantString(t, mustLookup(t, p, "prefs", "theme"), "dark")
	wantInt(t, mustLookup(t, p, "prefs", "size"), 12)
	if v := mustLookup(t, p, "prefs", "nested", "deep"); v.Kind != KindBool || !v.Bool {
		t.Fatalf("prefs.nested.deep = %s", v)
	}
	wantString(t, field(t, p, "login_at"), "2026-11-22T01:02:03.456789Z")
	wantString(t, field(t, p, "local_at"), "2026-11-22T01:02:03+01:00")
	wantString(t, field(t, p, "raw"), "\x00\x01\xff")
	// 1<<63 does not fit an int64: its eight bytes are shown opaque.
	big := field(t, p, "big")
	if big.Kind != KindOpaque || big.Opaque.Type != FormatGob || big.Opaque.Size != 8 || !strings.HasPrefix(big.Opaque.Preview, "00000000  80 00 00 00 00 00 00 00") {
		t.Fatalf("big = %s %+v", big, big.Opaque)
	}
	if v := field(t, p, "nothing"); v.Kind != KindNull {
		t.Fatalf("nothing = %s", v)
	}
	wantString(t, field(t, p, "7"), "int key")
}

// TestGobTruncated cuts every seed at every length: each cut is an error (a
// gob stream says where it ends), never a panic, and auto detection never
// claims a cut stream decoded.
func TestGobTruncated(t *testing.T) {
	for _, data := range seedDir(t, "gob") {
		for i := 0; i < len(data); i++ {
			cut := data[:i]
			p, err := Decode(FormatGob, cut, Limits{})
			if err == nil {
				t.Fatalf("%d of %d bytes decoded: %v", i, len(data), keys(p.Fields))
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrSyntax) {
				t.Fatalf("%d of %d bytes: %v", i, len(data), err)
			}
			auto, err := Decode(FormatAuto, cut, Limits{})
			if err != nil {
				t.Fatalf("auto, %d of %d bytes: %v", i, len(data), err)
			}
			if auto.Format == FormatGob && auto.Opaque == nil {
				t.Fatalf("auto decoded %d of %d bytes as gob", i, len(data))
			}
		}
		// Every single-byte change decodes or fails cleanly.
		for i := range data {
			for _, c := range []byte{0x00, 0x01, 0x7f, 0x80, 0xf8, 0xff} {
				mut := bytes.Clone(data)
				mut[i] = c
				p, err := Decode(FormatGob, mut, fuzzLimits)
				checkDecode(t, mut, p, err)
			}
		}
	}
}

// Hand-built streams: gob's integers, messages and type definitions.

func gobU(u uint64) []byte {
	if u < 0x80 {
		return []byte{byte(u)}
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], u)
	b := bytes.TrimLeft(buf[:], "\x00")
	return append([]byte{byte(256 - len(b))}, b...)
}

func gobI(i int64) []byte {
	if i < 0 {
		return gobU(uint64(^i)<<1 | 1)
	}
	return gobU(uint64(i) << 1)
}

func gobS(s string) []byte { return append(gobU(uint64(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// gobMsg frames one message: its byte count, then the bytes.
func gobMsg(parts ...[]byte) []byte {
	body := cat(parts...)
	return append(gobU(uint64(len(body))), body...)
}

func gobCommon(name string, id int64) []byte {
	return cat([]byte{1}, gobS(name), []byte{1}, gobI(id), []byte{0})
}

// gobSliceDef defines slice type id of elem: wireType{SliceT: {CommonType, Elem}}.
func gobSliceDef(id, elem int64) []byte {
	return gobMsg(gobI(-id), []byte{2, 1}, gobCommon("", id), []byte{1}, gobI(elem), []byte{0, 0})
}

// gobStructDef defines struct type id with fields of the given types, named F0, F1, ...
func gobStructDef(id int64, name string, fieldTypes ...int64) []byte {
	def := cat(gobI(-id), []byte{3, 1}, gobCommon(name, id), []byte{1}, gobU(uint64(len(fieldTypes))))
	for i, ft := range fieldTypes {
		def = cat(def, []byte{1}, gobS("F"+itoa(i)), []byte{1}, gobI(ft), []byte{0})
	}
	return gobMsg(def, []byte{0, 0})
}

// gobNested is a value of the recursive slice type 65 ([]T where T is the
// type itself) holding depth slices, one inside the other.
func gobNested(depth int) []byte {
	body := cat(gobI(65), []byte{0}, bytes.Repeat([]byte{1}, depth-1), []byte{0})
	return cat(gobSliceDef(65, 65), gobMsg(body))
}

func TestGobHandBuilt(t *testing.T) {
	// encoding/gob reads what the helpers write.
	ints := cat(gobSliceDef(65, gobIntID), gobMsg(gobI(65), []byte{0}, gobU(2), gobI(1), gobI(-2)))
	var back []int
	if err := gob.NewDecoder(bytes.NewReader(ints)).Decode(&back); err != nil || len(back) != 2 || back[0] != 1 || back[1] != -2 {
		t.Fatalf("encoding/gob: %v, %v", back, err)
	}
	p := decodeBoth(t, FormatGob, ints)
	if got := p.Fields[0].Value.String(); len(p.Fields) != 1 || p.Fields[0].Key != "" || got != "[1, -2]" {
		t.Fatalf("fields %v: %s", keys(p.Fields), got)
	}

	// A TextMarshaler type: the wire format has a kind for it, though
	// encoding/gob itself never writes one.
	text := cat(gobMsg(gobI(-65), []byte{7, 1}, gobCommon("Level", 65), []byte{0, 0}), gobMsg(gobI(65), []byte{0}, gobS("debug")))
	p = decodeBoth(t, FormatGob, text)
	if got := p.Fields[0].Value.String(); got != `Level{"": "debug"}` {
		t.Fatalf("text marshaler: %s", got)
	}
}

func TestGobLimits(t *testing.T) {
	t.Run("depth", func(t *testing.T) {
		lim := Limits{MaxDepth: 10}
		if _, err := Decode(FormatGob, gobNested(9), lim); err != nil {
			t.Fatalf("depth 9 within MaxDepth 10: %v", err)
		}
		if _, err := Decode(FormatGob, gobNested(11), lim); !errors.Is(err, ErrTooDeep) {
			t.Fatalf("depth 11: err = %v, want ErrTooDeep", err)
		}
		// A bomb far past the default limit fails fast, and auto detection
		// reports it rather than showing the bytes as if unrecognised.
		bomb := gobNested(100_000)
		if _, err := Decode(FormatGob, bomb, Limits{}); !errors.Is(err, ErrTooDeep) {
			t.Fatalf("bomb: err = %v, want ErrTooDeep", err)
		}
		if _, err := Decode(FormatAuto, bomb, Limits{}); !errors.Is(err, ErrTooDeep) {
			t.Fatalf("bomb, auto: err = %v, want ErrTooDeep", err)
		}
	})
	t.Run("values", func(t *testing.T) {
		ints := cat(gobSliceDef(65, gobIntID), gobMsg(gobI(65), []byte{0}, gobU(30_000), bytes.Repeat([]byte{2}, 30_000)))
		if _, err := Decode(FormatGob, ints, Limits{MaxNodes: 40_000}); err != nil {
			t.Fatalf("30,000 ints within 40,000 values: %v", err)
		}
		if _, err := Decode(FormatGob, ints, Limits{MaxNodes: 20_000}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("30,000 ints over 20,000 values: err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("zero fields", func(t *testing.T) {
		// Fields left out are shown with their zero value, so a few bytes
		// could stand for many values: they count against MaxNodes.
		fields := make([]int64, 500)
		for i := range fields {
			fields[i] = gobIntID
		}
		data := cat(gobStructDef(66, "Wide", fields...), gobSliceDef(65, 66),
			gobMsg(gobI(65), []byte{0}, gobU(1000), bytes.Repeat([]byte{0}, 1000)))
		if _, err := Decode(FormatGob, data, Limits{}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("1000 empty structs of 500 fields: err = %v, want ErrTooLarge", err)
		}
		one := cat(gobStructDef(66, "Wide", fields...), gobMsg(gobI(66), []byte{0}))
		p, err := Decode(FormatGob, one, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if v := p.Fields[0].Value; v.Kind != KindObject || len(v.Entries) != 500 || v.Entries[499].Key != "F499" {
			t.Fatalf("one empty struct: %s", v)
		}
	})
	t.Run("lying lengths", func(t *testing.T) {
		for name, data := range map[string][]byte{
			"element count": cat(gobSliceDef(65, gobIntID), gobMsg(gobI(65), []byte{0}, gobU(1<<40), []byte{2, 4})),
			"string length": cat(gobSliceDef(65, gobStringID), gobMsg(gobI(65), []byte{0}, gobU(1), gobU(1<<62), []byte("ab"))),
			"message":       cat(gobSliceDef(65, gobIntID), gobU(1<<30), gobI(65), []byte{0, 0}),
		} {
			_, err := Decode(FormatGob, data, Limits{})
			if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: err = %v, want ErrTooLarge and ErrTruncated", name, err)
			}
		}
	})
	t.Run("interface name", func(t *testing.T) {
		data := cat(gobSliceDef(65, gobInterfaceID), gobMsg(gobI(65), []byte{0}, gobU(1), gobS(strings.Repeat("x", 1025)), gobI(gobIntID), gobU(2), []byte{0, 2}))
		if _, err := Decode(FormatGob, data, Limits{}); !errors.Is(err, ErrSyntax) {
			t.Fatalf("err = %v, want ErrSyntax", err)
		}
	})
}

func TestGobMalformed(t *testing.T) {
	intSlice := gobSliceDef(65, gobIntID)
	valid := cat(intSlice, gobMsg(gobI(65), []byte{0}, gobU(1), gobI(5)))
	if _, err := Decode(FormatGob, valid, Limits{}); err != nil {
		t.Fatalf("the valid stream the cases alter: %v", err)
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"type defined twice", cat(intSlice, intSlice, gobMsg(gobI(65), []byte{0}, gobU(0))), ErrSyntax},
		{"predefined type redefined", cat(gobSliceDef(6, gobIntID), gobMsg(gobI(6), []byte{0}, gobU(0))), ErrSyntax},
		{"undefined type", cat(intSlice, gobMsg(gobI(70), []byte{0}, gobU(0))), ErrSyntax},
		{"undefined element type", cat(gobSliceDef(65, 99), gobMsg(gobI(65), []byte{0}, gobU(1), gobI(5))), ErrSyntax},
		{"non-zero delta before a value", cat(intSlice, gobMsg(gobI(65), []byte{1}, gobU(1), gobI(5))), ErrSyntax},
		{"trailing message", cat(valid, gobMsg([]byte{0})), ErrSyntax},
		{"trailing byte in the value message", cat(intSlice, gobMsg(gobI(65), []byte{0}, gobU(1), gobI(5), []byte{0})), ErrSyntax},
		{"bool 2", cat(gobSliceDef(65, gobBoolID), gobMsg(gobI(65), []byte{0}, gobU(1), gobU(2))), ErrSyntax},
		{"interface holding an interface", cat(gobSliceDef(65, gobInterfaceID), gobMsg(gobI(65), []byte{0}, gobU(1), gobS("x"), gobI(gobInterfaceID), gobU(1), []byte{0})), ErrSyntax},
		{"empty message", cat(intSlice, []byte{0}), ErrSyntax},
		{"data after a type definition", cat(gobMsg(intSlice[1:], []byte{0}), gobMsg(gobI(65), []byte{0}, gobU(0))), ErrSyntax},
		{"struct field out of range", cat(gobStructDef(66, "S", gobIntID), gobMsg(gobI(66), []byte{2, 2, 0})), ErrSyntax},
		{"type id 0", gobMsg(gobI(0), []byte{0}), ErrSyntax},
		{"wireType of two kinds", cat(gobMsg(gobI(-65), []byte{2, 1}, gobCommon("", 65), []byte{1}, gobI(2), []byte{0},
			[]byte{2, 1}, gobCommon("", 65), []byte{1}, gobI(2), []byte{1}, gobI(2), []byte{0, 0}), gobMsg(gobI(65), []byte{0}, gobU(0))), ErrSyntax},
		{"array count differs from its type", cat(gobMsg(gobI(-65), []byte{1, 1}, gobCommon("", 65), []byte{1}, gobI(gobIntID), []byte{1}, gobI(2), []byte{0, 0}),
			gobMsg(gobI(65), []byte{0}, gobU(1), gobI(5))), ErrSyntax},
		{"nine-byte integer", cat(intSlice, gobMsg(gobI(65), []byte{0}, gobU(1), []byte{0xf7, 1, 2, 3, 4, 5, 6, 7, 8, 9})), ErrSyntax},
		{"no value after the definitions", intSlice, ErrTruncated},
		{"empty input", nil, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(FormatGob, tc.data, Limits{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			checkDecode(t, tc.data, p, err)
			// Bytes framed like gob that do not decode stay opaque, their
			// preview labelled gob.
			auto, err := Decode(FormatAuto, tc.data, Limits{})
			if err != nil || auto.Opaque == nil || auto.Format != FormatOpaque || Sniff(tc.data) != FormatOpaque {
				t.Fatalf("auto = %+v, %v; want an opaque payload", auto, err)
			}
			if isGob(tc.data) && auto.Opaque.Type != FormatGob {
				t.Fatalf("opaque type %s, want gob", auto.Opaque.Type)
			}
		})
	}
}

// TestGobNeverText: printable text is never gob, however it frames.
func TestGobNeverText(t *testing.T) {
	// "\x05" frames, but is a control byte; the same framing in printable
	// bytes ("#" is a 35-byte message opening with "%", type id -19) is not
	// even tried.
	text := []byte("#%" + strings.Repeat("a", 34))
	if isGob(text) || Sniff(text) == FormatGob {
		t.Fatalf("printable text sniffed as gob")
	}
}

// Types of the encoding/gob comparison.
type (
	gobCmpAddress struct {
		City string
		Zip  *string
	}
	gobCmpUser struct {
		ID       int64
		Name     string
		Password string
		Admin    bool
		Score    float32
		Ratio    *float64
		Age      *int
		Roles    []string
		Home     gobCmpAddress
		Work     *gobCmpAddress
		Others   map[string]*gobCmpAddress
		Any      interface{}
		Grid     [2][]int8
		Raw      []byte
		Digest   [4]byte
		Big      uint64
		C        complex64
		When     time.Time
		IP       net.IP // a []byte: gob ignores its MarshalText
		At       gobCmpPoint
		AtPtr    *gobCmpPoint
		Ch       chan int // never sent: gob skips chan and func fields
		hidden   string   // never sent: unexported
	}
	gobCmpNode struct {
		Val  int
		Next *gobCmpNode
	}
	// gobCmpPoint encodes itself: gob sends what MarshalBinary returns.
	gobCmpPoint struct{ x, y int8 }
)

func (p gobCmpPoint) MarshalBinary() ([]byte, error) { return []byte{byte(p.x), byte(p.y)}, nil }

func (p *gobCmpPoint) UnmarshalBinary(b []byte) error {
	if len(b) != 2 {
		return errors.New("point: want 2 bytes")
	}
	p.x, p.y = int8(b[0]), int8(b[1])
	return nil
}

func init() {
	gob.Register(gobCmpUser{})
	gob.Register(gobCmpAddress{})
	gob.Register(time.Time{})
	gob.Register([]interface{}{})
	gob.Register(map[string]interface{}{})
	gob.Register([3]int{})
	gob.Register(net.IP{})
	gob.Register(gobCmpPoint{})
}

// TestGobMatchesEncodingGob encodes values of known Go types with
// encoding/gob, decodes them back with encoding/gob into those types, and
// holds the tree decoded from the same bytes against what the Go value shows.
func TestGobMatchesEncodingGob(t *testing.T) {
	zip := "75001"
	ratio, age := 0.5, 0
	user := gobCmpUser{
		ID: 42, Name: "ada", Password: "hunter2", Score: 1.5, Ratio: &ratio, Age: &age,
		Roles: []string{"a", ""}, Home: gobCmpAddress{City: "Paris", Zip: &zip},
		Others: map[string]*gobCmpAddress{"x": {City: "Oslo"}, "y": {}},
		Any:    map[string]interface{}{"k": []interface{}{1, "two", nil, 2.5}},
		Grid:   [2][]int8{{-1, 0, 1}, nil}, Raw: []byte{0, 0xff}, Digest: [4]byte{1, 2, 3, 4},
		Big: math.MaxUint64, C: complex(1, -2), When: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -5*3600-30)),
		IP: net.ParseIP("192.0.2.1"), At: gobCmpPoint{3, 4}, AtPtr: &gobCmpPoint{-5, 0}, Ch: make(chan int), hidden: "h",
	}
	tests := []struct {
		name  string
		value any // encoded as is; decoded into a new value of its type
	}{
		{"map of ints", map[string]int{"a": 1, "b": -2, "c": 0}},
		{"map with int keys", map[int]string{7: "seven", -1: ""}},
		{"gorilla values", map[interface{}]interface{}{
			"s": "x", 1: true, "f": 1.5, "u": user, "empty": gobCmpUser{}, "nil": nil,
			"list": []interface{}{1, "two", nil, map[string]interface{}{"k": []string{"v"}}}, "b": []byte{0, 1},
			"t": time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC), "c": complex(1, 2),
			"u8": uint8(200), "big": uint64(1<<63 + 5), "i8": int8(-3), "f32": float32(0.25), "arr": [3]int{1, 2, 3},
			"neg0": math.Copysign(0, -1), "inf": math.Inf(-1), "ip": net.IPv4(10, 0, 0, 1), "pt": gobCmpPoint{1, -1},
		}},
		{"struct at the top", user},
		{"empty struct at the top", gobCmpUser{}},
		{"recursive type", gobCmpNode{Val: 1, Next: &gobCmpNode{Val: 2, Next: &gobCmpNode{}}}},
		{"slice of structs", []gobCmpAddress{{City: "a"}, {}, {Zip: &zip}}},
		{"nested arrays", [2][]string{{"a"}, {}}},
		{"string", "just a string"},
		{"time", time.Unix(0, 0).UTC()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(tc.value); err != nil {
				t.Fatal(err)
			}
			data := buf.Bytes()
			back := reflect.New(reflect.TypeOf(tc.value))
			if err := gob.NewDecoder(bytes.NewReader(data)).DecodeValue(back); err != nil {
				t.Fatalf("encoding/gob: %v", err)
			}
			want := goTree(t, back.Elem(), "")
			p, err := Decode(FormatGob, data, Limits{})
			if err != nil {
				t.Fatalf("% x: %v", data, err)
			}
			got := Value{Kind: KindMap, Entries: p.Fields}
			if want.Kind != KindMap {
				got = p.Fields[0].Value
			} else {
				want.Class = "" // the top-level map is the payload's fields
			}
			if diff := sameTree(normalized(got), normalized(want), "value"); diff != "" {
				t.Fatalf("%s\ngot  %s\nwant %s", diff, got, want)
			}
		})
	}
}

// goTree is the Value a Go value decoded by encoding/gob should show as, by
// the rules gob.go documents. registered is the name an interface carried.
func goTree(t *testing.T, v reflect.Value, registered string) Value {
	t.Helper()
	typ := v.Type()
	withClass := func(val Value, class string) Value {
		if registered != "" {
			class = registered
		}
		val.Class = class
		return val
	}
	if typ.Kind() == reflect.Pointer && !v.IsNil() {
		return goTree(t, v.Elem(), registered)
	}
	if typ.Kind() == reflect.Slice && v.IsNil() && typ.Elem().Kind() != reflect.Uint8 {
		// A nil slice inside a slice, array or map is sent as an empty one.
		return withClass(Value{Kind: KindList, Items: []Value{}}, "")
	}
	if typ == reflect.TypeOf(time.Time{}) {
		return Value{Kind: KindString, Str: v.Interface().(time.Time).Format(time.RFC3339Nano)}
	}
	if m, ok := v.Interface().(encoding.BinaryMarshaler); ok && typ.Kind() != reflect.Interface {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return withClass(Value{Kind: KindObject, Opaque: OpaqueOf(b, FormatGob, false)}, typ.Name())
	}
	switch typ.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return Value{Kind: KindNull}
		}
		return goTree(t, v.Elem(), registeredName(v.Elem().Type()))
	case reflect.Pointer: // nil: gob sends no pointers, so it is a value left out
		return fieldTree(t, reflect.Zero(typ.Elem()))
	case reflect.Bool:
		return Value{Kind: KindBool, Bool: v.Bool()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Value{Kind: KindInt, Int: v.Int()}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := v.Uint(); u > math.MaxInt64 {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], u)
			return Value{Kind: KindOpaque, Opaque: OpaqueOf(b[:], FormatGob, false)}
		}
		return Value{Kind: KindInt, Int: int64(v.Uint())}
	case reflect.Float32, reflect.Float64:
		return Value{Kind: KindFloat, Float: v.Float()}
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		return withClass(complexValue(real(c), imag(c)), "complex")
	case reflect.String:
		return Value{Kind: KindString, Str: v.String()}
	case reflect.Slice, reflect.Array:
		if typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8 {
			return Value{Kind: KindString, Str: string(v.Bytes())}
		}
		items := []Value{}
		for i := 0; i < v.Len(); i++ {
			items = append(items, goTree(t, v.Index(i), ""))
		}
		return withClass(Value{Kind: KindList, Items: items}, "")
	case reflect.Map:
		if v.IsNil() {
			return Value{Kind: KindNull}
		}
		es := []Entry{}
		for it := v.MapRange(); it.Next(); {
			es = append(es, Entry{Key: entryKey(goTree(t, it.Key(), "")), Value: goTree(t, it.Value(), "")})
		}
		return withClass(Value{Kind: KindMap, Entries: es}, "")
	case reflect.Struct:
		es := []Entry{}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if !f.IsExported() || f.Type.Kind() == reflect.Chan || f.Type.Kind() == reflect.Func {
				continue
			}
			es = append(es, Entry{Key: f.Name, Value: fieldTree(t, v.Field(i))})
		}
		return withClass(Value{Kind: KindObject, Entries: es}, typ.Name())
	}
	t.Fatalf("no tree for %s", typ)
	return Value{}
}

// fieldTree is goTree for a struct field: gob leaves out a nil slice, map,
// pointer or interface (and an empty slice, which decodes as nil), shown as
// null unless a pointer to a type whose zero value is shown.
func fieldTree(t *testing.T, v reflect.Value) Value {
	t.Helper()
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.Interface:
		if v.IsNil() && (v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Uint8) { // []byte shows as a string
			return Value{Kind: KindNull}
		}
	case reflect.Pointer:
		if v.IsNil() {
			switch v.Type().Elem().Kind() {
			case reflect.Struct, reflect.Slice, reflect.Map, reflect.Array, reflect.Pointer:
				return Value{Kind: KindNull}
			}
		}
	}
	if _, ok := v.Interface().(encoding.BinaryMarshaler); ok && v.Kind() != reflect.Interface && v.IsZero() && v.Type() != reflect.TypeOf(time.Time{}) {
		return Value{Kind: KindNull} // a marshaled type's zero is left out too
	}
	return goTree(t, v, "")
}

// registeredName is the name gob.Register gives a type.
func registeredName(rt reflect.Type) string {
	if rt.Name() == "" {
		return rt.String()
	}
	if rt.PkgPath() == "" {
		return rt.Name()
	}
	return rt.PkgPath() + "." + rt.Name()
}

// normalized sorts map entries by key, since Go's map order is random.
func normalized(v Value) Value {
	switch v.Kind {
	case KindList:
		items := make([]Value, len(v.Items))
		for i := range v.Items {
			items[i] = normalized(v.Items[i])
		}
		v.Items = items
	case KindMap, KindObject:
		es := make([]Entry, len(v.Entries))
		for i, e := range v.Entries {
			es[i] = Entry{Key: e.Key, Value: normalized(e.Value)}
		}
		if v.Kind == KindMap {
			sort.SliceStable(es, func(i, j int) bool { return es[i].Key < es[j].Key })
		}
		v.Entries = es
	}
	return v
}

// sameTree describes the first difference between two trees, or returns "".
func sameTree(a, b Value, at string) string {
	switch {
	case a.Kind != b.Kind:
		return at + ": kind " + a.String() + " vs " + b.String()
	case a.Class != b.Class:
		return at + ": class " + a.Class + " vs " + b.Class
	case a.Bool != b.Bool, a.Int != b.Int, a.Str != b.Str,
		math.Float64bits(a.Float) != math.Float64bits(b.Float) && !(math.IsNaN(a.Float) && math.IsNaN(b.Float)):
		return at + ": " + a.String() + " vs " + b.String()
	case (a.Opaque == nil) != (b.Opaque == nil), a.Opaque != nil && (a.Opaque.Digest != b.Opaque.Digest || a.Opaque.Type != b.Opaque.Type):
		return at + ": opaque " + a.String() + " vs " + b.String()
	case len(a.Items) != len(b.Items), len(a.Entries) != len(b.Entries):
		return at + ": length " + a.String() + " vs " + b.String()
	}
	for i := range a.Items {
		if d := sameTree(a.Items[i], b.Items[i], at+"["+itoa(i)+"]"); d != "" {
			return d
		}
	}
	for i := range a.Entries {
		if a.Entries[i].Key != b.Entries[i].Key {
			return at + ": key " + a.Entries[i].Key + " vs " + b.Entries[i].Key
		}
		if d := sameTree(a.Entries[i].Value, b.Entries[i].Value, at+"."+a.Entries[i].Key); d != "" {
			return d
		}
	}
	return ""
}
