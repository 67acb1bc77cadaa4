package codec

import (
	"fmt"
	"math"
	"strconv"
)

// igbinary type bytes, from igbinary's src/php7/igbinary.c (enum igbinary_type).
const (
	igNull        = 0x00
	igRef8        = 0x01
	igRef16       = 0x02
	igRef32       = 0x03
	igFalse       = 0x04
	igTrue        = 0x05
	igLong8p      = 0x06
	igLong8n      = 0x07
	igLong16p     = 0x08
	igLong16n     = 0x09
	igLong32p     = 0x0a
	igLong32n     = 0x0b
	igDouble      = 0x0c
	igStringEmpty = 0x0d
	igStringID8   = 0x0e
	igStringID16  = 0x0f
	igStringID32  = 0x10
	igString8     = 0x11
	igString16    = 0x12
	igString32    = 0x13
	igArray8      = 0x14
	igArray16     = 0x15
	igArray32     = 0x16
	igObject8     = 0x17
	igObject16    = 0x18
	igObject32    = 0x19
	igObjectID8   = 0x1a
	igObjectID16  = 0x1b
	igObjectID32  = 0x1c
	igObjectSer8  = 0x1d
	igObjectSer16 = 0x1e
	igObjectSer32 = 0x1f
	igLong64p     = 0x20
	igLong64n     = 0x21
	igObjRef8     = 0x22
	igObjRef16    = 0x23
	igObjRef32    = 0x24
	igRef         = 0x25 // a PHP & reference to the value that follows
	igString64    = 0x26
	igEnumCase    = 0x27 // PHP 8.1 enum case, after an object's class name
)

// igParser reads igbinary. Like igbinary itself it keeps a table of the
// strings seen so far, because later occurrences are written as an index
// into it (string_id, object_id).
type igParser struct {
	src     string
	pos     int
	b       *budget
	strings []string
}

func (p *igParser) remaining() int { return len(p.src) - p.pos }

func (p *igParser) errAt(sentinel error, msg string) error { return errAt(p.pos, sentinel, msg) }

// uintN reads a big-endian unsigned integer of size bytes.
func (p *igParser) uintN(size int) (uint64, error) {
	if p.remaining() < size {
		return 0, p.errAt(ErrTruncated, "expected "+strconv.Itoa(size)+"-byte integer")
	}
	var n uint64
	for _, c := range []byte(p.src[p.pos : p.pos+size]) {
		n = n<<8 | uint64(c)
	}
	p.pos += size
	return n, nil
}

// sizeOf returns the width of the length or index that follows a 8/16/32(/64)
// type byte, given the 8-bit variant of its family.
func sizeOf(t, base byte) int {
	switch t - base {
	case 0:
		return 1
	case 1:
		return 2
	default:
		return 4
	}
}

// chararray reads a length-prefixed string and adds it to the string table.
func (p *igParser) chararray(size int) (string, error) {
	n, err := p.uintN(size)
	if err != nil {
		return "", err
	}
	if n > uint64(p.remaining()) {
		return "", errLength(p.pos, "string length", n, p.remaining())
	}
	s := p.src[p.pos : p.pos+int(n)]
	p.pos += int(n)
	p.strings = append(p.strings, s)
	return s, nil
}

// stringID resolves a back-reference into the string table.
func (p *igParser) stringID(size int) (string, error) {
	i, err := p.uintN(size)
	if err != nil {
		return "", err
	}
	if i >= uint64(len(p.strings)) {
		return "", p.errAt(ErrSyntax, "string id "+strconv.FormatUint(i, 10)+" out of range")
	}
	return p.strings[i], nil
}

// str reads any string-typed item (the type byte already consumed).
func (p *igParser) str(t byte) (string, bool, error) {
	switch t {
	case igStringEmpty:
		return "", true, nil
	case igString8, igString16, igString32:
		s, err := p.chararray(sizeOf(t, igString8))
		return s, true, err
	case igString64:
		s, err := p.chararray(8)
		return s, true, err
	case igStringID8, igStringID16, igStringID32:
		s, err := p.stringID(sizeOf(t, igStringID8))
		return s, true, err
	}
	return "", false, nil
}

func (p *igParser) long(t byte) (int64, error) {
	var size int
	switch t {
	case igLong8p, igLong8n:
		size = 1
	case igLong16p, igLong16n:
		size = 2
	case igLong32p, igLong32n:
		size = 4
	default:
		size = 8
	}
	u, err := p.uintN(size)
	if err != nil {
		return 0, err
	}
	neg := t == igLong8n || t == igLong16n || t == igLong32n || t == igLong64n
	if neg {
		if u > 1<<63 {
			return 0, p.errAt(ErrSyntax, "integer out of range")
		}
		return -int64(u), nil
	}
	if u > math.MaxInt64 {
		return 0, p.errAt(ErrSyntax, "integer out of range")
	}
	return int64(u), nil
}

func (p *igParser) value(depth int) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, p.errAt(err, "too many values")
	}
	if p.remaining() < 1 {
		return Value{}, p.errAt(ErrTruncated, "expected a value")
	}
	t := p.src[p.pos]
	p.pos++
	switch t {
	case igNull:
		return Value{Kind: KindNull}, nil
	case igFalse, igTrue:
		return Value{Kind: KindBool, Bool: t == igTrue}, nil
	case igLong8p, igLong8n, igLong16p, igLong16n, igLong32p, igLong32n, igLong64p, igLong64n:
		n, err := p.long(t)
		return Value{Kind: KindInt, Int: n}, err
	case igDouble:
		u, err := p.uintN(8)
		return Value{Kind: KindFloat, Float: math.Float64frombits(u)}, err
	case igStringEmpty, igString8, igString16, igString32, igString64, igStringID8, igStringID16, igStringID32:
		s, _, err := p.str(t)
		return Value{Kind: KindString, Str: s}, err
	case igArray8, igArray16, igArray32:
		es, err := p.entries(sizeOf(t, igArray8), depth, false)
		return Value{Kind: KindMap, Entries: es}, err
	case igObject8, igObject16, igObject32, igObjectID8, igObjectID16, igObjectID32:
		return p.object(t, depth)
	case igRef8, igRef16, igRef32:
		n, err := p.uintN(sizeOf(t, igRef8))
		return Value{Kind: KindRef, Int: int64(n), Bool: true}, err
	case igObjRef8, igObjRef16, igObjRef32:
		n, err := p.uintN(sizeOf(t, igObjRef8))
		return Value{Kind: KindRef, Int: int64(n)}, err
	case igRef:
		// A & reference wraps the value it makes referable: show the value.
		// The node budget was charged for this wrapper, which also bounds a
		// chain of ref bytes; the depth bound catches the rest.
		if depth+1 > p.b.maxDepth {
			return Value{}, errTooDeep(p.pos, p.b.maxDepth)
		}
		return p.value(depth + 1)
	}
	return Value{}, errAt(p.pos-1, ErrSyntax, fmt.Sprintf("unknown igbinary type 0x%02x", t))
}

// entries reads an array (or object property table) whose count has size
// bytes.
func (p *igParser) entries(size, depth int, property bool) ([]Entry, error) {
	n, err := p.uintN(size)
	if err != nil {
		return nil, err
	}
	// Each entry needs at least a key byte and a value byte; igbinary itself
	// rejects counts above the remaining bytes.
	if n > uint64(p.remaining()/2) {
		return nil, errLength(p.pos, "array count", n, p.remaining())
	}
	if depth+1 > p.b.maxDepth {
		return nil, errTooDeep(p.pos, p.b.maxDepth)
	}
	var out []Entry
	if n > 0 {
		out = make([]Entry, 0, p.b.capHint(n, p.remaining()/2))
	}
	for i := uint64(0); i < n; i++ {
		if p.remaining() < 1 {
			return nil, p.errAt(ErrTruncated, "expected a key")
		}
		kt := p.src[p.pos]
		p.pos++
		var key string
		switch kt {
		case igNull:
			// igbinary writes a null key for an entry it skipped (an
			// unset property): there is no value.
			continue
		case igLong8p, igLong8n, igLong16p, igLong16n, igLong32p, igLong32n, igLong64p, igLong64n:
			k, err := p.long(kt)
			if err != nil {
				return nil, err
			}
			key = strconv.FormatInt(k, 10)
		default:
			s, ok, err := p.str(kt)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, errAt(p.pos-1, ErrSyntax, fmt.Sprintf("igbinary key of type 0x%02x", kt))
			}
			key = s
		}
		if property {
			key = propertyName(key)
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Key: key, Value: v})
	}
	return out, nil
}

// object reads a class name then properties, custom-serialized bytes or an
// enum case. As with serialize(), the class is a label only.
func (p *igParser) object(t byte, depth int) (Value, error) {
	var class string
	var err error
	switch t {
	case igObject8, igObject16, igObject32:
		class, err = p.chararray(sizeOf(t, igObject8))
	default:
		class, err = p.stringID(sizeOf(t, igObjectID8))
	}
	if err != nil {
		return Value{}, err
	}
	if p.remaining() < 1 {
		return Value{}, p.errAt(ErrTruncated, "expected object contents")
	}
	inner := p.src[p.pos]
	p.pos++
	switch inner {
	case igArray8, igArray16, igArray32:
		es, err := p.entries(sizeOf(inner, igArray8), depth, true)
		return Value{Kind: KindObject, Class: class, Entries: es}, err
	case igObjectSer8, igObjectSer16, igObjectSer32:
		n, err := p.uintN(sizeOf(inner, igObjectSer8))
		if err != nil {
			return Value{}, err
		}
		if n > uint64(p.remaining()) {
			return Value{}, errLength(p.pos, "serialized object length", n, p.remaining())
		}
		raw := p.src[p.pos : p.pos+int(n)]
		p.pos += int(n)
		return Value{Kind: KindObject, Class: class, Opaque: opaqueOfString(raw, FormatPHPCustom)}, nil
	case igEnumCase:
		if p.remaining() < 1 {
			return Value{}, p.errAt(ErrTruncated, "expected enum case name")
		}
		st := p.src[p.pos]
		p.pos++
		name, ok, err := p.str(st)
		if err != nil {
			return Value{}, err
		}
		if !ok {
			return Value{}, errAt(p.pos-1, ErrSyntax, "enum case name is not a string")
		}
		return Value{Kind: KindObject, Class: class, Str: name}, nil
	}
	return Value{}, errAt(p.pos-1, ErrSyntax, fmt.Sprintf("unknown igbinary object contents 0x%02x", inner))
}

// igbinaryHeader reports whether data starts with an igbinary version header
// (1 or 2, big-endian) and has room for a value.
func igbinaryHeader(data []byte) bool {
	return len(data) >= 5 && data[0] == 0 && data[1] == 0 && data[2] == 0 && (data[3] == 1 || data[3] == 2)
}

// decodeIgbinary decodes igbinary's session serializer output: the header
// followed by an array of name => value.
func decodeIgbinary(data []byte, b *budget) (*Payload, error) {
	if !igbinaryHeader(data) {
		if len(data) < 5 {
			return nil, fmt.Errorf("igbinary session: %d bytes is shorter than the header: %w", len(data), ErrTruncated)
		}
		return nil, fmt.Errorf("igbinary session: no igbinary header (00 00 00 01 or 02): %w", ErrSyntax)
	}
	p := &igParser{src: string(data), pos: 4, b: b}
	if err := p.b.node(); err != nil {
		return nil, fmt.Errorf("igbinary session: %w", err)
	}
	t := p.src[p.pos]
	p.pos++
	if t != igArray8 && t != igArray16 && t != igArray32 {
		return nil, fmt.Errorf("igbinary session: top-level type 0x%02x is not an array: %w", t, ErrSyntax)
	}
	fields, err := p.entries(sizeOf(t, igArray8), 0, false)
	if err != nil {
		return nil, fmt.Errorf("igbinary session: %w", err)
	}
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("igbinary session: %w", p.errAt(ErrSyntax, "trailing data after the session array"))
	}
	return &Payload{Format: FormatIgbinary, Fields: fields}, nil
}
