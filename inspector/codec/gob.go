package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// gob, the stream format of Go's encoding/gob: what gorilla/sessions stores
// through redistore (session.Values, a map[interface{}]interface{}). The
// reader follows the documented wire format over data only: it builds no Go
// value of the encoded types, needs no registered type and calls no
// GobDecode, UnmarshalBinary or UnmarshalText, so a payload cannot make
// sessionscope run anything. Type names are labels.
//
// A stream is a sequence of messages, each an unsigned byte count and that
// many bytes. A message holds either a type definition (a negative type id and
// a wireType) or a value (a positive type id and the value). The definitions a
// value inside an interface needs may come in the middle of that value: the
// encoder then ends the message after the definition and the value goes on in
// the next one, which is why the reader keeps the current message's end and
// moves to the next message only where encoding/gob's decoder does (before a
// type id).
//
// How each type decodes:
//   - bool, int, uint, float: KindBool, KindInt, KindFloat; a uint beyond
//     int64 is KindOpaque (type gob) over its eight big-endian bytes.
//   - string and []byte: KindString, bytes as written. complex: KindObject
//     "complex" with entries real and imag.
//   - slice and array: KindList. map: KindMap; string keys as is, integer
//     keys as decimal text, any other key as Value.String renders it.
//   - struct: KindObject with the type's name as Class and every field of the
//     type in declaration order. gob leaves out fields holding their zero
//     value; they are shown with it (false, 0, "" for a string or []byte,
//     time.Time's zero) or, for a map, other slice, array, struct, interface
//     or other marshaled type, as null.
//   - interface: the name the concrete type was registered under
//     ("main.User", "[]interface {}") becomes the Class of what it holds
//     when that is a KindObject, KindMap or KindList; a nil interface is
//     KindNull.
//   - a type with its own encoding (GobEncoder, BinaryMarshaler): KindObject
//     with Class and an Opaque of the bytes it wrote, except time.Time, whose
//     documented binary layout is decoded to an RFC 3339 string in the stored
//     offset. TextMarshaler (a kind the wire format has, though encoding/gob
//     itself never writes it): KindObject with Class and an entry "" holding
//     the text.

// Type ids encoding/gob predefines (type.go's bootstrap types).
const (
	gobBoolID      = 1
	gobIntID       = 2
	gobUintID      = 3
	gobFloatID     = 4
	gobBytesID     = 5
	gobStringID    = 6
	gobComplexID   = 7
	gobInterfaceID = 8
	gobFirstUserID = 64
	// gobMaxTypeID bounds type ids: encoding/gob numbers types with an int32.
	gobMaxTypeID = math.MaxInt32
	// gobMaxNameLen is encoding/gob's own bound on an interface's type name.
	gobMaxNameLen = 1024
)

// gobKind is which member of encoding/gob's wireType a definition sets.
type gobKind uint8

const (
	gobArray gobKind = iota + 1
	gobSlice
	gobStruct
	gobMap
	gobEncoder         // GobEncoder
	gobBinaryMarshaler // encoding.BinaryMarshaler
	gobTextMarshaler   // encoding.TextMarshaler
)

type gobField struct {
	name string
	id   int64
}

// gobType is one received type definition.
type gobType struct {
	kind   gobKind
	name   string
	key    int64 // map
	elem   int64 // array, slice, map
	len    int64 // array
	fields []gobField
}

type gobParser struct {
	src   string
	pos   int
	end   int // end of the current message; reads stop there
	b     *budget
	types map[int64]*gobType
}

func (p *gobParser) errAt(sentinel error, msg string) error { return errAt(p.pos, sentinel, msg) }

func (p *gobParser) remaining() int { return p.end - p.pos }

// nextMessage starts the next message, whose byte count follows the current
// one.
func (p *gobParser) nextMessage() error {
	if p.pos >= len(p.src) {
		return p.errAt(ErrTruncated, "expected another message")
	}
	n, w := gobUint([]byte(p.src[p.pos:min(len(p.src), p.pos+9)]))
	if w == 0 {
		return p.errAt(ErrSyntax, "malformed message length")
	}
	if n == 0 {
		return p.errAt(ErrSyntax, "empty message")
	}
	p.pos += w
	if n > uint64(len(p.src)-p.pos) {
		return errLength(p.pos, "message length", n, len(p.src)-p.pos)
	}
	p.end = p.pos + int(n)
	return nil
}

// uint reads gob's unsigned integer: one byte below 0x80, else the negated
// byte count followed by that many big-endian bytes.
func (p *gobParser) uint(what string) (uint64, error) {
	if p.pos >= p.end {
		return 0, p.errAt(ErrTruncated, "expected "+what)
	}
	c := p.src[p.pos]
	if c < 0x80 {
		p.pos++
		return uint64(c), nil
	}
	n := 256 - int(c)
	if n > 8 {
		return 0, p.errAt(ErrSyntax, fmt.Sprintf("%s: integer of %d bytes", what, n))
	}
	if n > p.remaining()-1 {
		return 0, p.errAt(ErrTruncated, what+": integer bytes")
	}
	var u uint64
	for i := 1; i <= n; i++ {
		u = u<<8 | uint64(p.src[p.pos+i])
	}
	p.pos += 1 + n
	return u, nil
}

// int reads gob's signed integer: the unsigned form with the sign in bit 0
// (set for a complemented value).
func (p *gobParser) int(what string) (int64, error) {
	u, err := p.uint(what)
	if err != nil {
		return 0, err
	}
	if u&1 != 0 {
		return ^int64(u >> 1), nil
	}
	return int64(u >> 1), nil
}

// count reads a length or count; each unit takes at least minBytes bytes of
// the input. The bound is the whole input that remains, not the current message:
// a value holding an interface of a type not yet sent continues in the message
// after that type's definition.
func (p *gobParser) count(what string, minBytes int) (int, error) {
	n, err := p.uint(what)
	if err != nil {
		return 0, err
	}
	if left := len(p.src) - p.pos; n > uint64(left/minBytes) {
		return 0, errLength(p.pos, what, n, left)
	}
	return int(n), nil
}

// bytes reads a length and that many bytes.
func (p *gobParser) bytes(what string) (string, error) {
	n, err := p.count(what+" length", 1)
	if err != nil {
		return "", err
	}
	s := p.src[p.pos : p.pos+n]
	p.pos += n
	return s, nil
}

// typeID reads a type id where one is referenced, so it must be positive.
func (p *gobParser) typeID(what string) (int64, error) {
	off := p.pos
	id, err := p.int(what)
	if err != nil {
		return 0, err
	}
	if id <= 0 || id > gobMaxTypeID {
		return 0, errAt(off, ErrSyntax, fmt.Sprintf("%s %d", what, id))
	}
	return id, nil
}

// fields reads a struct's field deltas until the terminating 0, calling read
// with each field's number; n is the number of fields the struct has.
func (p *gobParser) fields(what string, n int, read func(field int) error) error {
	field := -1
	for {
		off := p.pos
		delta, err := p.uint(what + " field delta")
		if err != nil {
			return err
		}
		if delta == 0 {
			return nil
		}
		if delta > uint64(n-1-field) {
			return errAt(off, ErrSyntax, fmt.Sprintf("%s: field %d of %d", what, uint64(field)+delta, n))
		}
		field += int(delta)
		if err := read(field); err != nil {
			return err
		}
	}
}

// typeSequence reads type definitions until a value's type id, as
// encoding/gob's decodeTypeSequence does: at the top of the stream every
// definition fills its own message; inside an interface, a definition may be
// followed by the byte count of the value that goes on in the same message,
// which is skipped.
func (p *gobParser) typeSequence(inInterface bool) (int64, error) {
	for {
		if p.pos == p.end {
			if err := p.nextMessage(); err != nil {
				return 0, err
			}
		}
		off := p.pos
		id, err := p.int("a type id")
		if err != nil {
			return 0, err
		}
		if id >= 0 {
			if id == 0 || id > gobMaxTypeID {
				return 0, errAt(off, ErrSyntax, fmt.Sprintf("type id %d", id))
			}
			return id, nil
		}
		if id < -gobMaxTypeID {
			return 0, errAt(off, ErrSyntax, fmt.Sprintf("type id %d", id))
		}
		if err := p.defineType(-id, off); err != nil {
			return 0, err
		}
		if p.pos < p.end {
			if !inInterface {
				return 0, p.errAt(ErrSyntax, "data after a type definition")
			}
			if _, err := p.uint("a value length"); err != nil {
				return 0, err
			}
		}
	}
}

// defineType reads a wireType: a struct whose one set field (ArrayT, SliceT,
// StructT, MapT, GobEncoderT, BinaryMarshalerT or TextMarshalerT) describes
// the type.
func (p *gobParser) defineType(id int64, off int) error {
	if id < gobFirstUserID {
		return errAt(off, ErrSyntax, fmt.Sprintf("definition of predefined type id %d", id))
	}
	if _, dup := p.types[id]; dup {
		return errAt(off, ErrSyntax, fmt.Sprintf("type id %d defined twice", id))
	}
	if err := p.b.node(); err != nil {
		return p.errAt(err, "too many values")
	}
	var t *gobType
	err := p.fields("wireType", 7, func(field int) error {
		if t != nil {
			return p.errAt(ErrSyntax, "type definition of two kinds")
		}
		t = &gobType{kind: gobKind(field + 1)}
		switch t.kind {
		case gobArray:
			return p.fields("arrayType", 3, func(f int) error {
				var err error
				switch f {
				case 0:
					t.name, err = p.commonType()
				case 1:
					t.elem, err = p.typeID("array element type id")
				case 2:
					off := p.pos
					if t.len, err = p.int("array length"); err == nil && t.len < 0 {
						err = errAt(off, ErrSyntax, "negative array length")
					}
				}
				return err
			})
		case gobSlice:
			return p.fields("sliceType", 2, func(f int) error {
				var err error
				if f == 0 {
					t.name, err = p.commonType()
				} else {
					t.elem, err = p.typeID("slice element type id")
				}
				return err
			})
		case gobStruct:
			return p.fields("structType", 2, func(f int) error {
				if f == 0 {
					var err error
					t.name, err = p.commonType()
					return err
				}
				return p.structFields(t)
			})
		case gobMap:
			return p.fields("mapType", 3, func(f int) error {
				var err error
				switch f {
				case 0:
					t.name, err = p.commonType()
				case 1:
					t.key, err = p.typeID("map key type id")
				case 2:
					t.elem, err = p.typeID("map element type id")
				}
				return err
			})
		default: // the three marshaler kinds hold only a CommonType
			return p.fields("gobEncoderType", 1, func(int) error {
				var err error
				t.name, err = p.commonType()
				return err
			})
		}
	})
	if err != nil {
		return err
	}
	if t == nil {
		return errAt(off, ErrSyntax, "empty type definition")
	}
	switch {
	case t.kind == gobArray && t.elem == 0, t.kind == gobSlice && t.elem == 0, t.kind == gobMap && (t.key == 0 || t.elem == 0):
		return errAt(off, ErrSyntax, "type definition without its element type")
	}
	p.types[id] = t
	return nil
}

// commonType reads a CommonType (Name, Id) and returns the name; the id
// repeats the definition's and is not needed.
func (p *gobParser) commonType() (string, error) {
	var name string
	err := p.fields("CommonType", 2, func(f int) error {
		var err error
		if f == 0 {
			name, err = p.bytes("type name")
		} else {
			_, err = p.int("type id")
		}
		return err
	})
	return name, err
}

// structFields reads a struct type's []fieldType.
func (p *gobParser) structFields(t *gobType) error {
	// A fieldType takes at least its terminating byte.
	n, err := p.count("struct field count", 1)
	if err != nil {
		return err
	}
	t.fields = make([]gobField, 0, p.b.capHint(uint64(n), p.remaining()))
	for i := 0; i < n; i++ {
		if err := p.b.node(); err != nil {
			return p.errAt(err, "too many values")
		}
		var f gobField
		err := p.fields("fieldType", 2, func(k int) error {
			var err error
			if k == 0 {
				f.name, err = p.bytes("field name")
			} else {
				f.id, err = p.typeID("field type id")
			}
			return err
		})
		if err != nil {
			return err
		}
		if f.id == 0 {
			return p.errAt(ErrSyntax, "struct field without a type")
		}
		t.fields = append(t.fields, f)
	}
	return nil
}

// enter checks that a container at depth may hold values.
func (p *gobParser) enter(depth int) error {
	if depth+1 > p.b.maxDepth {
		return errTooDeep(p.pos, p.b.maxDepth)
	}
	return nil
}

// lookup finds a user type's definition.
func (p *gobParser) lookup(id int64) (*gobType, error) {
	t, ok := p.types[id]
	if !ok {
		return nil, p.errAt(ErrSyntax, fmt.Sprintf("undefined type id %d", id))
	}
	return t, nil
}

// topValue reads a value as encoding/gob sends one on its own (at the top
// of the stream or inside an interface): a struct as its fields, anything
// else as a field of delta 0 followed by the value.
func (p *gobParser) topValue(id int64, depth int) (Value, error) {
	if t := p.types[id]; t == nil || t.kind != gobStruct {
		off := p.pos
		delta, err := p.uint("a value's field delta")
		if err != nil {
			return Value{}, err
		}
		if delta != 0 {
			return Value{}, errAt(off, ErrSyntax, "non-zero field delta before a value")
		}
	}
	return p.value(id, depth)
}

// value reads one value of type id. depth is the number of containers
// around it.
func (p *gobParser) value(id int64, depth int) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, p.errAt(err, "too many values")
	}
	if depth > p.b.maxDepth {
		return Value{}, errTooDeep(p.pos, p.b.maxDepth)
	}
	switch id {
	case gobBoolID:
		off := p.pos
		u, err := p.uint("a bool")
		if err == nil && u > 1 {
			err = errAt(off, ErrSyntax, fmt.Sprintf("bool %d", u))
		}
		return Value{Kind: KindBool, Bool: u == 1}, err
	case gobIntID:
		n, err := p.int("an int")
		return Value{Kind: KindInt, Int: n}, err
	case gobUintID:
		u, err := p.uint("a uint")
		if err != nil {
			return Value{}, err
		}
		if u > math.MaxInt64 {
			var buf [8]byte
			binary.BigEndian.PutUint64(buf[:], u)
			return Value{Kind: KindOpaque, Opaque: opaqueOfString(string(buf[:]), FormatGob)}, nil
		}
		return Value{Kind: KindInt, Int: int64(u)}, nil
	case gobFloatID:
		f, err := p.float()
		return Value{Kind: KindFloat, Float: f}, err
	case gobBytesID, gobStringID:
		s, err := p.bytes("a string")
		return Value{Kind: KindString, Str: s}, err
	case gobComplexID:
		re, err := p.float()
		if err != nil {
			return Value{}, err
		}
		im, err := p.float()
		return complexValue(re, im), err
	case gobInterfaceID:
		return p.iface(depth)
	}
	t, err := p.lookup(id)
	if err != nil {
		return Value{}, err
	}
	switch t.kind {
	case gobArray, gobSlice:
		// Every value takes at least one byte.
		off := p.pos
		n, err := p.count("element count", 1)
		if err != nil {
			return Value{}, err
		}
		if t.kind == gobArray && int64(n) != t.len {
			return Value{}, errAt(off, ErrSyntax, fmt.Sprintf("array of %d elements holds %d", t.len, n))
		}
		if err := p.enter(depth); err != nil {
			return Value{}, err
		}
		items := make([]Value, 0, p.b.capHint(uint64(n), p.remaining()))
		for i := 0; i < n; i++ {
			v, err := p.value(t.elem, depth+1)
			if err != nil {
				return Value{}, err
			}
			items = append(items, v)
		}
		return Value{Kind: KindList, Items: items}, nil
	case gobMap:
		n, err := p.count("map count", 2)
		if err != nil {
			return Value{}, err
		}
		if err := p.enter(depth); err != nil {
			return Value{}, err
		}
		es := make([]Entry, 0, p.b.capHint(uint64(n), p.remaining()/2))
		for i := 0; i < n; i++ {
			k, err := p.value(t.key, depth+1)
			if err != nil {
				return Value{}, err
			}
			v, err := p.value(t.elem, depth+1)
			if err != nil {
				return Value{}, err
			}
			es = append(es, Entry{Key: entryKey(k), Value: v})
		}
		return Value{Kind: KindMap, Entries: es}, nil
	case gobStruct:
		return p.structValue(t, depth)
	case gobTextMarshaler:
		s, err := p.bytes("marshaled text")
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: KindObject, Class: t.name, Entries: []Entry{{Key: "", Value: Value{Kind: KindString, Str: s}}}}, nil
	default: // GobEncoder, BinaryMarshaler
		s, err := p.bytes("marshaled bytes")
		if err != nil {
			return Value{}, err
		}
		if t.name == "Time" {
			if tm, ok := gobTime(s); ok {
				return Value{Kind: KindString, Str: tm.Format(time.RFC3339Nano)}, nil
			}
		}
		return Value{Kind: KindObject, Class: t.name, Opaque: opaqueOfString(s, FormatGob)}, nil
	}
}

// float reads a float: its IEEE 754 bits byte-reversed, sent as a uint, so
// that common values (small integers) take few bytes.
func (p *gobParser) float() (float64, error) {
	u, err := p.uint("a float")
	return math.Float64frombits(bits.ReverseBytes64(u)), err
}

func complexValue(re, im float64) Value {
	return Value{Kind: KindObject, Class: "complex", Entries: []Entry{
		{Key: "real", Value: Value{Kind: KindFloat, Float: re}},
		{Key: "imag", Value: Value{Kind: KindFloat, Float: im}},
	}}
}

// structValue reads a struct: field deltas and values up to a 0 delta.
// Fields left out (gob omits zero values) are filled with their zero value,
// so the object shows every field of its type.
func (p *gobParser) structValue(t *gobType, depth int) (Value, error) {
	if err := p.enter(depth); err != nil {
		return Value{}, err
	}
	// Each field shown is a value: account for the ones the input does not
	// carry before allocating them.
	if p.b.nodesLeft < len(t.fields) {
		return Value{}, p.errAt(errNodeLimit, "too many values")
	}
	es := make([]Entry, len(t.fields))
	sent := make([]bool, len(t.fields))
	err := p.fields("struct", len(t.fields), func(f int) error {
		v, err := p.value(t.fields[f].id, depth+1)
		es[f] = Entry{Key: t.fields[f].name, Value: v}
		sent[f] = true
		return err
	})
	if err != nil {
		return Value{}, err
	}
	for i, f := range t.fields {
		if sent[i] {
			continue
		}
		if err := p.b.node(); err != nil {
			return Value{}, p.errAt(err, "too many values")
		}
		es[i] = Entry{Key: f.name, Value: p.zero(f.id)}
	}
	return Value{Kind: KindObject, Class: t.name, Entries: es}, nil
}

// zero is the value of a field gob left out for holding its zero value. Of
// the types with their own encoding only time.Time's zero is known.
func (p *gobParser) zero(id int64) Value {
	if t := p.types[id]; t != nil && (t.kind == gobEncoder || t.kind == gobBinaryMarshaler) && t.name == "Time" {
		return Value{Kind: KindString, Str: time.Time{}.Format(time.RFC3339Nano)}
	}
	switch id {
	case gobBoolID:
		return Value{Kind: KindBool}
	case gobIntID, gobUintID:
		return Value{Kind: KindInt}
	case gobFloatID:
		return Value{Kind: KindFloat}
	case gobBytesID, gobStringID:
		return Value{Kind: KindString}
	case gobComplexID:
		return complexValue(0, 0)
	}
	return Value{Kind: KindNull}
}

// iface reads an interface value: the registered name of the concrete type
// (empty for nil), the type definitions it needs, its type id, the byte
// count of the value (which, like encoding/gob, the reader does not need)
// and the value as sent on its own.
func (p *gobParser) iface(depth int) (Value, error) {
	off := p.pos
	n, err := p.uint("an interface type name length")
	if err != nil {
		return Value{}, err
	}
	if n > gobMaxNameLen {
		return Value{}, errAt(off, ErrSyntax, fmt.Sprintf("interface type name of %d bytes", n))
	}
	if n > uint64(p.remaining()) {
		return Value{}, errLength(p.pos, "interface type name length", n, p.remaining())
	}
	name := p.src[p.pos : p.pos+int(n)]
	p.pos += int(n)
	if name == "" {
		return Value{Kind: KindNull}, nil
	}
	off = p.pos
	id, err := p.typeSequence(true)
	if err != nil {
		return Value{}, err
	}
	if id == gobInterfaceID {
		return Value{}, errAt(off, ErrSyntax, "an interface's concrete type is an interface")
	}
	if _, err := p.uint("an interface value length"); err != nil {
		return Value{}, err
	}
	v, err := p.topValue(id, depth)
	if err != nil {
		return Value{}, err
	}
	switch v.Kind {
	case KindMap, KindList, KindObject:
		v.Class = name
	}
	return v, nil
}

// gobTime decodes time.Time's binary layout (what its GobEncode writes): a
// version byte (1, or 2 when the zone offset has seconds), seconds since
// January 1 of year 1 (int64), nanoseconds (int32) and the zone offset in
// minutes (int16, -1 for UTC), all big-endian, then with version 2 the
// offset's seconds.
func gobTime(s string) (time.Time, bool) {
	const unixToInternal = (1969*365 + 1969/4 - 1969/100 + 1969/400) * 24 * 60 * 60
	if len(s) < 15 || s[0] != 1 && s[0] != 2 || s[0] == 1 && len(s) != 15 || s[0] == 2 && len(s) != 16 {
		return time.Time{}, false
	}
	b := []byte(s)
	sec := int64(binary.BigEndian.Uint64(b[1:9]))
	nsec := int64(int32(binary.BigEndian.Uint32(b[9:13])))
	offMin := int(int16(binary.BigEndian.Uint16(b[13:15])))
	if nsec < 0 || nsec >= 1e9 || sec < math.MinInt64+unixToInternal {
		return time.Time{}, false
	}
	t := time.Unix(sec-unixToInternal, nsec).UTC()
	off := offMin * 60
	if s[0] == 2 {
		off += int(b[15])
	}
	if off == -60 { // -1 minute is how the layout marks UTC
		return t, true
	}
	return t.In(time.FixedZone("", off)), true
}

// decodeGob decodes a gob stream holding one value (gorilla/sessions'
// session.Values): a top-level map's entries become Fields; any other value
// becomes a single field named "".
func decodeGob(data []byte, b *budget) (*Payload, error) {
	p := &gobParser{src: string(data), b: b, types: map[int64]*gobType{}}
	id, err := p.typeSequence(false)
	if err != nil {
		return nil, fmt.Errorf("gob session: %w", err)
	}
	v, err := p.topValue(id, 0)
	if err != nil {
		return nil, fmt.Errorf("gob session: %w", err)
	}
	if p.pos != p.end || p.end != len(p.src) {
		return nil, fmt.Errorf("gob session: %w", p.errAt(ErrSyntax, "trailing data after the value"))
	}
	fields := []Entry{{Key: "", Value: v}}
	if v.Kind == KindMap {
		fields = v.Entries
	}
	return &Payload{Format: FormatGob, Fields: fields}, nil
}
