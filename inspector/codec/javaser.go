package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Java Object Serialization (the stream ObjectOutputStream writes, AC ED 00
// 05): what Spring Session's JdkSerializationRedisSerializer stores for each
// session attribute. The reader follows the protocol's grammar as data only:
// class names are labels, no class is loaded or instantiated, and no
// readObject, readResolve or readExternal runs, so a payload (a gadget chain
// included) cannot make sessionscope run anything.
//
// How each value decodes:
//   - null, String (TC_STRING, TC_LONGSTRING; modified UTF-8 is turned into
//     UTF-8): KindNull, KindString.
//   - An object (TC_OBJECT): KindObject whose Class is the class name and
//     whose entries are its fields, the topmost superclass's first, each class's
//     primitive fields before its object fields as the stream holds them. A
//     class whose writeObject wrote data of its own after its fields keeps that
//     data as one more entry, named "" for the object's own class and by the
//     class name for a superclass: a KindOpaque (java_serialized) leaf of the
//     bytes, or a KindList of such leaves and the objects written between
//     them. An Externalizable object's data is the entry "" alike.
//   - Well-known JDK classes are read from their documented writeObject
//     layouts instead: HashMap, LinkedHashMap, Hashtable, TreeMap and
//     ConcurrentHashMap are KindMap (String keys as is, any other key as
//     Value.String renders it); ArrayList, LinkedList, HashSet, LinkedHashSet,
//     TreeSet, List.of/Set.of (java.util.CollSer) and Arrays.asList are
//     KindList (Map.of is KindMap); the Collections.unmodifiable*/
//     synchronized*/empty*/singleton* wrappers are the collection they wrap;
//     java.lang.Long, Integer, Short, Byte, Double, Float, Boolean and
//     Character are KindInt, KindFloat, KindBool and KindString; java.util.Date
//     is a KindString (RFC 3339, UTC, to the millisecond); BigInteger is
//     KindInt (its decimal digits as a KindString beyond int64) and BigDecimal
//     its plain decimal text ("12.50") as a KindString. A subclass of one of
//     these collections or of Date keeps its fields, and the superclass's data
//     is the entry named by that class.
//   - Arrays (TC_ARRAY): byte[] is a binary-safe KindString, char[] a
//     KindString, other arrays KindList.
//   - An enum constant (TC_ENUM): KindObject with Class and the constant's
//     name in Str. A Class (TC_CLASS) or a class descriptor written as an
//     object: KindObject "java.lang.Class" with the name in Str. A dynamic
//     proxy's class is "$Proxy<interface,...>".
//   - A back-reference (TC_REFERENCE) to a String, number, enum constant or
//     Class is that value again; to anything else (an object, array or
//     collection, shared or still being read, as in a cycle) it is KindRef,
//     Int holding the handle's index (0 for the first handle of the stream).
//
// Limits: every value, primitive field, array element, block of custom data,
// class of an object's hierarchy and handle counts against Limits.MaxNodes
// (so the handle table is bounded by it too), and so does every 64 bytes of a
// String shown again for a back-reference; objects, arrays, collections, custom data and superclass
// chains count against Limits.MaxDepth; every declared length and count is
// checked against the input that remains before anything is read. A stream
// that records a write failure (TC_EXCEPTION), holds Externalizable data
// written by JDK 1.1's protocol (which has no end marker), or has bytes after
// its object fails the decode.

// Stream grammar constants (java.io.ObjectStreamConstants).
const (
	jsNull           = 0x70
	jsReference      = 0x71
	jsClassDesc      = 0x72
	jsObject         = 0x73
	jsString         = 0x74
	jsArray          = 0x75
	jsClass          = 0x76
	jsBlockData      = 0x77
	jsEndBlockData   = 0x78
	jsReset          = 0x79
	jsBlockDataLong  = 0x7a
	jsException      = 0x7b
	jsLongString     = 0x7c
	jsProxyClassDesc = 0x7d
	jsEnum           = 0x7e

	jsBaseHandle = 0x7e0000

	jsWriteMethod    = 0x01
	jsSerializable   = 0x02
	jsExternalizable = 0x04
	jsBlockDataMode  = 0x08
)

// jsClassInfo is a class descriptor read from the stream.
type jsClassInfo struct {
	name   string
	flags  byte
	fields []jsField
	super  *jsClassInfo
}

// jsField is one serializable field of a class descriptor: a type code
// (B C D F I J S Z, or L and [ for objects) and its name.
type jsField struct {
	code byte
	name string
}

// jsHandle is one entry of the stream's handle table.
type jsHandle struct {
	class *jsClassInfo // a class descriptor
	val   Value        // a finished value
	done  bool         // val is set; false while an object is still being read
}

// jsPart is one piece of the custom data a writeObject (or writeExternal)
// wrote: a run of block data bytes, or an object written between blocks.
type jsPart struct {
	data  string
	obj   Value
	isObj bool
}

// jsParser reads one stream. Like rmParser it converts the input to a string
// once, so every decoded string shares that copy.
type jsParser struct {
	src     string
	pos     int
	b       *budget
	handles []jsHandle
}

func (p *jsParser) remaining() int { return len(p.src) - p.pos }

func (p *jsParser) errAt(sentinel error, msg string) error { return errAt(p.pos, sentinel, msg) }

func (p *jsParser) take(n int, what string) (string, error) {
	if n > p.remaining() {
		return "", p.errAt(ErrTruncated, "expected "+what)
	}
	s := p.src[p.pos : p.pos+n]
	p.pos += n
	return s, nil
}

func (p *jsParser) u8(what string) (byte, error) {
	if p.pos >= len(p.src) {
		return 0, p.errAt(ErrTruncated, "expected "+what)
	}
	c := p.src[p.pos]
	p.pos++
	return c, nil
}

func (p *jsParser) u16(what string) (uint16, error) {
	s, err := p.take(2, what)
	if err != nil {
		return 0, err
	}
	return uint16(s[0])<<8 | uint16(s[1]), nil
}

func (p *jsParser) u32(what string) (uint32, error) {
	s, err := p.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32([]byte(s)), nil
}

func (p *jsParser) u64(what string) (uint64, error) {
	s, err := p.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64([]byte(s)), nil
}

// peek returns the next byte without consuming it.
func (p *jsParser) peek(what string) (byte, error) {
	if p.pos >= len(p.src) {
		return 0, p.errAt(ErrTruncated, "expected "+what)
	}
	return p.src[p.pos], nil
}

// utf reads a 2-byte length and that much modified UTF-8 (DataOutput.writeUTF).
func (p *jsParser) utf(what string) (string, error) {
	n, err := p.u16(what + " length")
	if err != nil {
		return "", err
	}
	return p.utfBody(uint64(n), what)
}

// utfBody reads n bytes of modified UTF-8, checking n against the input first.
func (p *jsParser) utfBody(n uint64, what string) (string, error) {
	if n > uint64(p.remaining()) {
		return "", errLength(p.pos, what+" length", n, p.remaining())
	}
	off := p.pos
	s := p.src[p.pos : p.pos+int(n)]
	p.pos += int(n)
	out, ok := javaUTF(s)
	if !ok {
		return "", errAt(off, ErrSyntax, "malformed modified UTF-8 in "+what)
	}
	return out, nil
}

// javaUTF turns Java's modified UTF-8 (NUL as C0 80, characters beyond the
// BMP as two 3-byte surrogates) into UTF-8. Text that is already valid UTF-8
// without C0 80 is returned as is, sharing its bytes.
func javaUTF(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, true
	}
	var sb strings.Builder
	sb.Grow(len(s))
	var units []uint16
	for i := 0; i < len(s); {
		c := s[i]
		var u uint16
		switch {
		case c < 0x80:
			u = uint16(c)
			i++
		case c&0xe0 == 0xc0:
			if i+1 >= len(s) || s[i+1]&0xc0 != 0x80 {
				return "", false
			}
			u = uint16(c&0x1f)<<6 | uint16(s[i+1]&0x3f)
			i += 2
		case c&0xf0 == 0xe0:
			if i+2 >= len(s) || s[i+1]&0xc0 != 0x80 || s[i+2]&0xc0 != 0x80 {
				return "", false
			}
			u = uint16(c&0x0f)<<12 | uint16(s[i+1]&0x3f)<<6 | uint16(s[i+2]&0x3f)
			i += 3
		default:
			return "", false
		}
		units = append(units, u)
	}
	for _, r := range utf16.Decode(units) {
		sb.WriteRune(r)
	}
	return sb.String(), true
}

// newHandle adds an entry to the handle table. Every handle is a node, so
// the table never outgrows Limits.MaxNodes.
func (p *jsParser) newHandle(h jsHandle) (int, error) {
	if err := p.b.node(); err != nil {
		return 0, p.errAt(err, "too many handles")
	}
	p.handles = append(p.handles, h)
	return len(p.handles) - 1, nil
}

// handle reads a TC_REFERENCE's handle (its tag already read).
func (p *jsParser) handle() (int, error) {
	off := p.pos
	h, err := p.u32("a handle")
	if err != nil {
		return 0, err
	}
	i := int64(h) - jsBaseHandle
	if i < 0 || i >= int64(len(p.handles)) {
		return 0, errAt(off, ErrSyntax, fmt.Sprintf("reference to handle 0x%x, %d handles defined", h, len(p.handles)))
	}
	return int(i), nil
}

// isScalarJava reports values a back-reference shows again in full: they
// are leaves, so repeating them costs nothing and keeps a field's
// fingerprint independent of where the first copy sits.
func isScalarJava(v Value) bool {
	switch v.Kind {
	case KindNull, KindBool, KindInt, KindFloat, KindString:
		return true
	case KindObject:
		return v.Entries == nil && v.Str != ""
	}
	return false
}

// content reads one object (anything but block data) at depth.
func (p *jsParser) content(depth int) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, p.errAt(err, "too many values")
	}
	if depth > p.b.maxDepth {
		return Value{}, errTooDeep(p.pos, p.b.maxDepth)
	}
	start := p.pos
	tc, err := p.u8("an object")
	if err != nil {
		return Value{}, err
	}
	for tc == jsReset {
		// ObjectInputStream accepts a reset only between top-level objects.
		if depth > 0 {
			return Value{}, errAt(start, ErrSyntax, "TC_RESET inside an object")
		}
		p.handles = p.handles[:0]
		start = p.pos
		if tc, err = p.u8("an object"); err != nil {
			return Value{}, err
		}
	}
	switch tc {
	case jsNull:
		return Value{Kind: KindNull}, nil
	case jsReference:
		i, err := p.handle()
		if err != nil {
			return Value{}, err
		}
		h := p.handles[i]
		switch {
		case h.class != nil:
			return Value{Kind: KindObject, Class: "java.lang.Class", Str: h.class.name}, nil
		case h.done && isScalarJava(h.val):
			// Every copy of a long String is hashed and walked again by
			// whoever reads the tree: charge it, so a few bytes of references
			// cannot stand for gigabytes of text.
			if err := p.b.repeat(len(h.val.Str)); err != nil {
				return Value{}, p.errAt(err, "too many copies of a long String")
			}
			return h.val, nil
		}
		return Value{Kind: KindRef, Int: int64(i)}, nil
	case jsString, jsLongString:
		return p.newString(tc)
	case jsObject:
		return p.object(depth)
	case jsArray:
		return p.array(depth)
	case jsEnum:
		return p.enum(depth)
	case jsClass:
		c, err := p.classDesc(depth + 1)
		if err != nil {
			return Value{}, err
		}
		if c == nil {
			return Value{}, p.errAt(ErrSyntax, "TC_CLASS with a null descriptor")
		}
		v := Value{Kind: KindObject, Class: "java.lang.Class", Str: c.name}
		_, err = p.newHandle(jsHandle{val: v, done: true})
		return v, err
	case jsClassDesc, jsProxyClassDesc:
		p.pos = start
		c, err := p.classDesc(depth + 1)
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: KindObject, Class: "java.lang.Class", Str: c.name}, nil
	case jsException:
		return Value{}, errAt(start, ErrSyntax, "the stream records an exception thrown while it was written")
	case jsBlockData, jsBlockDataLong, jsEndBlockData:
		return Value{}, errAt(start, ErrSyntax, "block data where an object was expected")
	}
	return Value{}, errAt(start, ErrSyntax, fmt.Sprintf("unknown type code 0x%02x", tc))
}

// newString reads TC_STRING or TC_LONGSTRING's body and gives it a handle.
func (p *jsParser) newString(tc byte) (Value, error) {
	var n uint64
	if tc == jsString {
		m, err := p.u16("a string length")
		if err != nil {
			return Value{}, err
		}
		n = uint64(m)
	} else {
		m, err := p.u64("a long string length")
		if err != nil {
			return Value{}, err
		}
		n = m
	}
	s, err := p.utfBody(n, "string")
	if err != nil {
		return Value{}, err
	}
	v := Value{Kind: KindString, Str: s}
	_, err = p.newHandle(jsHandle{val: v, done: true})
	return v, err
}

// stringObject reads a String object, new or referenced, where the grammar
// requires one: a field's type name, an enum constant's name.
func (p *jsParser) stringObject() (string, error) {
	start := p.pos
	tc, err := p.u8("a String")
	if err != nil {
		return "", err
	}
	switch tc {
	case jsString, jsLongString:
		v, err := p.newString(tc)
		return v.Str, err
	case jsReference:
		i, err := p.handle()
		if err != nil {
			return "", err
		}
		if h := p.handles[i]; h.done && h.val.Kind == KindString {
			return h.val.Str, nil
		}
		return "", errAt(start, ErrSyntax, "a reference to something other than a String where a String is required")
	}
	return "", errAt(start, ErrSyntax, fmt.Sprintf("type code 0x%02x where a String is required", tc))
}

// classDesc reads a classDesc: a new or proxy descriptor, a reference to one,
// or null (nil). depth counts the superclass chain.
func (p *jsParser) classDesc(depth int) (*jsClassInfo, error) {
	if depth > p.b.maxDepth {
		return nil, errTooDeep(p.pos, p.b.maxDepth)
	}
	start := p.pos
	tc, err := p.u8("a class descriptor")
	if err != nil {
		return nil, err
	}
	switch tc {
	case jsNull:
		return nil, nil
	case jsReference:
		i, err := p.handle()
		if err != nil {
			return nil, err
		}
		if c := p.handles[i].class; c != nil {
			return c, nil
		}
		return nil, errAt(start, ErrSyntax, "a class descriptor refers to something other than one")
	case jsClassDesc:
		return p.newClassDesc(depth)
	case jsProxyClassDesc:
		return p.proxyClassDesc(depth)
	}
	return nil, errAt(start, ErrSyntax, fmt.Sprintf("expected a class descriptor, found type code 0x%02x", tc))
}

func (p *jsParser) newClassDesc(depth int) (*jsClassInfo, error) {
	name, err := p.utf("class name")
	if err != nil {
		return nil, err
	}
	if _, err := p.u64("a serialVersionUID"); err != nil {
		return nil, err
	}
	c := &jsClassInfo{name: name}
	if _, err := p.newHandle(jsHandle{class: c}); err != nil {
		return nil, err
	}
	off := p.pos
	if c.flags, err = p.u8("class flags"); err != nil {
		return nil, err
	}
	if c.flags&jsSerializable != 0 && c.flags&jsExternalizable != 0 {
		return nil, errAt(off, ErrSyntax, "class "+quoteName(name)+" is both Serializable and Externalizable")
	}
	count, err := p.u16("a field count")
	if err != nil {
		return nil, err
	}
	// A field takes at least a type code and a name length.
	if int(count) > p.remaining()/3 {
		return nil, errLength(p.pos, "field count", uint64(count), p.remaining())
	}
	c.fields = make([]jsField, 0, p.b.capHint(uint64(count), p.remaining()/3))
	for i := 0; i < int(count); i++ {
		if err := p.b.node(); err != nil {
			return nil, p.errAt(err, "too many fields")
		}
		off := p.pos
		code, err := p.u8("a field type code")
		if err != nil {
			return nil, err
		}
		fname, err := p.utf("field name")
		if err != nil {
			return nil, err
		}
		switch code {
		case 'B', 'C', 'D', 'F', 'I', 'J', 'S', 'Z':
		case 'L', '[':
			if _, err := p.stringObject(); err != nil {
				return nil, err
			}
		default:
			return nil, errAt(off, ErrSyntax, fmt.Sprintf("field %s has type code 0x%02x", quoteName(fname), code))
		}
		c.fields = append(c.fields, jsField{code: code, name: fname})
	}
	if err := p.skipAnnotation(depth); err != nil {
		return nil, err
	}
	if c.super, err = p.classDesc(depth + 1); err != nil {
		return nil, err
	}
	return c, nil
}

// proxyClassDesc reads a dynamic proxy's descriptor: its interfaces, an
// annotation and the superclass (java.lang.reflect.Proxy).
func (p *jsParser) proxyClassDesc(depth int) (*jsClassInfo, error) {
	c := &jsClassInfo{flags: jsSerializable}
	if _, err := p.newHandle(jsHandle{class: c}); err != nil {
		return nil, err
	}
	off := p.pos
	n, err := p.u32("an interface count")
	if err != nil {
		return nil, err
	}
	// An interface name takes at least its 2-byte length.
	if int64(n) > int64(p.remaining()/2) {
		return nil, errLength(off+4, "interface count", uint64(n), p.remaining())
	}
	names := make([]string, 0, p.b.capHint(uint64(n), p.remaining()/2))
	for i := 0; i < int(n); i++ {
		if err := p.b.node(); err != nil {
			return nil, p.errAt(err, "too many interfaces")
		}
		s, err := p.utf("interface name")
		if err != nil {
			return nil, err
		}
		names = append(names, s)
	}
	c.name = "$Proxy<" + strings.Join(names, ",") + ">"
	if err := p.skipAnnotation(depth); err != nil {
		return nil, err
	}
	if c.super, err = p.classDesc(depth + 1); err != nil {
		return nil, err
	}
	return c, nil
}

// skipAnnotation reads a class annotation (what annotateClass wrote, nothing
// with ObjectOutputStream itself) up to TC_ENDBLOCKDATA and drops it.
func (p *jsParser) skipAnnotation(depth int) error {
	_, err := p.parts(depth, false)
	return err
}

// parts reads block data and objects up to TC_ENDBLOCKDATA. keep returns
// them, adjacent blocks joined into one run.
func (p *jsParser) parts(depth int, keep bool) ([]jsPart, error) {
	if depth+1 > p.b.maxDepth {
		return nil, errTooDeep(p.pos, p.b.maxDepth)
	}
	var out []jsPart
	var run []string // blocks since the last object, joined once the run ends
	flush := func() {
		if len(run) > 0 {
			out = append(out, jsPart{data: strings.Join(run, "")})
			run = run[:0]
		}
	}
	for {
		tc, err := p.peek("TC_ENDBLOCKDATA")
		if err != nil {
			return nil, err
		}
		switch tc {
		case jsEndBlockData:
			p.pos++
			flush()
			return out, nil
		case jsBlockData, jsBlockDataLong:
			p.pos++
			var n uint64
			if tc == jsBlockData {
				c, err := p.u8("a block length")
				if err != nil {
					return nil, err
				}
				n = uint64(c)
			} else {
				m, err := p.u32("a block length")
				if err != nil {
					return nil, err
				}
				if int32(m) < 0 {
					return nil, p.errAt(ErrSyntax, "negative block length")
				}
				n = uint64(m)
			}
			if n > uint64(p.remaining()) {
				return nil, errLength(p.pos, "block length", n, p.remaining())
			}
			if err := p.b.node(); err != nil {
				return nil, p.errAt(err, "too many blocks")
			}
			if keep {
				run = append(run, p.src[p.pos:p.pos+int(n)])
			}
			p.pos += int(n)
		default:
			v, err := p.content(depth + 1)
			if err != nil {
				return nil, err
			}
			if keep {
				flush()
				out = append(out, jsPart{obj: v, isObj: true})
			}
		}
	}
}

// primitive reads one primitive field value or array element of type code.
func (p *jsParser) primitive(code byte) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, p.errAt(err, "too many values")
	}
	switch code {
	case 'B', 'Z':
		c, err := p.u8("a byte")
		if code == 'Z' {
			return Value{Kind: KindBool, Bool: c != 0}, err
		}
		return Value{Kind: KindInt, Int: int64(int8(c))}, err
	case 'C':
		u, err := p.u16("a char")
		r := rune(u)
		if utf16.IsSurrogate(r) {
			r = utf8.RuneError // half of a pair cannot stand alone in UTF-8
		}
		return Value{Kind: KindString, Str: string(r)}, err
	case 'S':
		u, err := p.u16("a short")
		return Value{Kind: KindInt, Int: int64(int16(u))}, err
	case 'I':
		u, err := p.u32("an int")
		return Value{Kind: KindInt, Int: int64(int32(u))}, err
	case 'F':
		u, err := p.u32("a float")
		return Value{Kind: KindFloat, Float: float64(math.Float32frombits(u))}, err
	case 'J':
		u, err := p.u64("a long")
		return Value{Kind: KindInt, Int: int64(u)}, err
	case 'D':
		u, err := p.u64("a double")
		return Value{Kind: KindFloat, Float: math.Float64frombits(u)}, err
	}
	return Value{}, p.errAt(ErrSyntax, fmt.Sprintf("type code 0x%02x is not primitive", code))
}

// primitiveSize is the width of a primitive type code, 0 for object types.
func primitiveSize(code byte) int {
	switch code {
	case 'B', 'Z':
		return 1
	case 'C', 'S':
		return 2
	case 'I', 'F':
		return 4
	case 'J', 'D':
		return 8
	}
	return 0
}

// jsSlot is the data one class of an object's hierarchy wrote: its fields
// and, when its writeObject added any, its custom data.
type jsSlot struct {
	class  *jsClassInfo
	fields []Entry
	parts  []jsPart
}

// object reads TC_OBJECT's class descriptor and the data of each class of
// its hierarchy, topmost superclass first.
func (p *jsParser) object(depth int) (Value, error) {
	start := p.pos - 1
	c, err := p.classDesc(depth + 1)
	if err != nil {
		return Value{}, err
	}
	if c == nil {
		return Value{}, errAt(start, ErrSyntax, "TC_OBJECT with a null class descriptor")
	}
	if err := p.enterJava(depth); err != nil {
		return Value{}, err
	}
	idx, err := p.newHandle(jsHandle{})
	if err != nil {
		return Value{}, err
	}
	var chain []*jsClassInfo
	for k := c; k != nil; k = k.super {
		// A descriptor whose superclass refers back to itself would loop.
		if len(chain) >= p.b.maxDepth {
			return Value{}, errTooDeep(p.pos, p.b.maxDepth)
		}
		chain = append(chain, k)
	}
	var slots []jsSlot
	if c.flags&jsExternalizable != 0 {
		if c.flags&jsBlockDataMode == 0 {
			return Value{}, errAt(start, ErrSyntax, "Externalizable data written by protocol 1 has no end marker")
		}
		parts, err := p.parts(depth, true)
		if err != nil {
			return Value{}, err
		}
		slots = []jsSlot{{class: c, parts: parts}}
	} else {
		slots = make([]jsSlot, 0, len(chain))
		for i := len(chain) - 1; i >= 0; i-- {
			s, err := p.slot(chain[i], depth)
			if err != nil {
				return Value{}, err
			}
			slots = append(slots, s)
		}
	}
	v := buildJavaObject(c, slots)
	p.handles[idx] = jsHandle{val: v, done: true}
	return v, nil
}

// slot reads one class's field values, primitives first as the stream holds
// them, then its custom data when its writeObject wrote some.
func (p *jsParser) slot(c *jsClassInfo, depth int) (jsSlot, error) {
	// Each class of the hierarchy is work even without fields: count it, so
	// many objects of a class with a long chain stay within the budget.
	if err := p.b.node(); err != nil {
		return jsSlot{}, p.errAt(err, "too many values")
	}
	s := jsSlot{class: c}
	if len(c.fields) > 0 {
		s.fields = make([]Entry, 0, len(c.fields))
	}
	for _, f := range c.fields {
		if primitiveSize(f.code) == 0 {
			continue
		}
		v, err := p.primitive(f.code)
		if err != nil {
			return jsSlot{}, err
		}
		s.fields = append(s.fields, Entry{Key: f.name, Value: v})
	}
	for _, f := range c.fields {
		if primitiveSize(f.code) != 0 {
			continue
		}
		v, err := p.content(depth + 1)
		if err != nil {
			return jsSlot{}, err
		}
		s.fields = append(s.fields, Entry{Key: f.name, Value: v})
	}
	if c.flags&jsWriteMethod != 0 {
		parts, err := p.parts(depth, true)
		if err != nil {
			return jsSlot{}, err
		}
		s.parts = parts
	}
	return s, nil
}

// array reads TC_ARRAY: a class descriptor ("[I", "[Ljava.lang.String;"),
// a length and the elements.
func (p *jsParser) array(depth int) (Value, error) {
	start := p.pos - 1
	c, err := p.classDesc(depth + 1)
	if err != nil {
		return Value{}, err
	}
	if c == nil || len(c.name) < 2 || c.name[0] != '[' {
		return Value{}, errAt(start, ErrSyntax, "TC_ARRAY without an array class")
	}
	idx, err := p.newHandle(jsHandle{})
	if err != nil {
		return Value{}, err
	}
	off := p.pos
	u, err := p.u32("an array length")
	if err != nil {
		return Value{}, err
	}
	if int32(u) < 0 {
		return Value{}, errAt(off, ErrSyntax, "negative array length")
	}
	n := int(u)
	code := c.name[1]
	width := primitiveSize(code)
	if code != 'L' && code != '[' && width == 0 {
		return Value{}, errAt(start, ErrSyntax, "array class "+quoteName(c.name)+" has an unknown element type")
	}
	// An object element takes at least one byte.
	if n > p.remaining()/max(width, 1) {
		return Value{}, errLength(p.pos, "array length", uint64(n), p.remaining())
	}
	if err := p.enterJava(depth); err != nil {
		return Value{}, err
	}
	var v Value
	switch code {
	case 'B':
		s, _ := p.take(n, "array bytes")
		v = Value{Kind: KindString, Str: s}
	case 'C':
		s, _ := p.take(2*n, "array chars")
		units := make([]uint16, n)
		for i := range units {
			units[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
		}
		v = Value{Kind: KindString, Str: string(utf16.Decode(units))}
	default:
		items := make([]Value, 0, p.b.capHint(uint64(n), p.remaining()/max(width, 1)))
		for i := 0; i < n; i++ {
			var e Value
			if width > 0 {
				e, err = p.primitive(code)
			} else {
				e, err = p.content(depth + 1)
			}
			if err != nil {
				return Value{}, err
			}
			items = append(items, e)
		}
		v = Value{Kind: KindList, Items: items}
	}
	p.handles[idx] = jsHandle{val: v, done: true}
	return v, nil
}

// enterJava checks that a container opened at depth may hold values.
func (p *jsParser) enterJava(depth int) error {
	if depth+1 > p.b.maxDepth {
		return errTooDeep(p.pos, p.b.maxDepth)
	}
	return nil
}

// enum reads TC_ENUM: the enum's class descriptor and the constant's name.
func (p *jsParser) enum(depth int) (Value, error) {
	start := p.pos - 1
	c, err := p.classDesc(depth + 1)
	if err != nil {
		return Value{}, err
	}
	if c == nil {
		return Value{}, errAt(start, ErrSyntax, "TC_ENUM with a null class descriptor")
	}
	idx, err := p.newHandle(jsHandle{})
	if err != nil {
		return Value{}, err
	}
	name, err := p.stringObject()
	if err != nil {
		return Value{}, err
	}
	v := Value{Kind: KindObject, Class: c.name, Str: name}
	p.handles[idx] = jsHandle{val: v, done: true}
	return v, nil
}

// buildJavaObject turns an object's class data into a Value: a well-known
// JDK class from its documented layout, anything else as its fields plus
// the custom data its classes' writeObject methods added.
func buildJavaObject(c *jsClassInfo, slots []jsSlot) Value {
	if v, ok := wellKnownJava(c.name, slots); ok {
		return v
	}
	var es []Entry
	for _, s := range slots {
		es = append(es, s.fields...)
	}
	for _, s := range slots {
		if len(s.parts) == 0 {
			continue
		}
		key := ""
		if s.class != c {
			key = s.class.name
		}
		// An application's subclass of HashMap (or Date, ...) still holds
		// that class's documented data.
		v, ok := wellKnownJava(s.class.name, slots)
		if !ok || s.class == c {
			v = customData(s.parts)
		}
		es = append(es, Entry{Key: key, Value: v})
	}
	if es == nil {
		es = []Entry{}
	}
	return Value{Kind: KindObject, Class: c.name, Entries: es}
}

// customData shows what a writeObject wrote beyond its fields: one opaque
// leaf for bytes alone, else a list of the byte runs and objects in order.
func customData(parts []jsPart) Value {
	if len(parts) == 1 && !parts[0].isObj {
		return Value{Kind: KindOpaque, Opaque: opaqueOfString(parts[0].data, FormatJavaSerial)}
	}
	items := make([]Value, 0, len(parts))
	for _, pt := range parts {
		if pt.isObj {
			items = append(items, pt.obj)
		} else {
			items = append(items, Value{Kind: KindOpaque, Opaque: opaqueOfString(pt.data, FormatJavaSerial)})
		}
	}
	return Value{Kind: KindList, Items: items}
}

// jsCursor reads custom data the way the class's readObject would:
// primitives from the block data, objects in between.
type jsCursor struct {
	parts []jsPart
	i     int
	off   int // bytes of parts[i] read, when it is block data
}

// skipEmpty moves past a block run read to its end.
func (c *jsCursor) skipEmpty() {
	for c.i < len(c.parts) && !c.parts[c.i].isObj && c.off == len(c.parts[c.i].data) {
		c.i++
		c.off = 0
	}
}

func (c *jsCursor) bytes(n int) (string, bool) {
	c.skipEmpty()
	if c.i >= len(c.parts) || c.parts[c.i].isObj || len(c.parts[c.i].data)-c.off < n {
		return "", false
	}
	s := c.parts[c.i].data[c.off : c.off+n]
	c.off += n
	return s, true
}

func (c *jsCursor) int32() (int32, bool) {
	s, ok := c.bytes(4)
	if !ok {
		return 0, false
	}
	return int32(binary.BigEndian.Uint32([]byte(s))), true
}

func (c *jsCursor) int64() (int64, bool) {
	s, ok := c.bytes(8)
	if !ok {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64([]byte(s))), true
}

func (c *jsCursor) object() (Value, bool) {
	c.skipEmpty()
	if c.i >= len(c.parts) || !c.parts[c.i].isObj {
		return Value{}, false
	}
	v := c.parts[c.i].obj
	c.i++
	c.off = 0
	return v, true
}

// count reads an element count and checks the objects that remain can
// hold it, each element taking per objects.
func (c *jsCursor) count(per int) (int, bool) {
	n, ok := c.int32()
	if !ok || n < 0 || int(n) > (len(c.parts)-c.i)/per+1 {
		return 0, false
	}
	return int(n), true
}

// done reports whether every part was read.
func (c *jsCursor) done() bool {
	c.skipEmpty()
	return c.i == len(c.parts)
}

// objects reads n objects as list items.
func (c *jsCursor) objects(n int) ([]Value, bool) {
	items := make([]Value, 0, min(n, len(c.parts)))
	for i := 0; i < n; i++ {
		v, ok := c.object()
		if !ok {
			return nil, false
		}
		items = append(items, v)
	}
	return items, true
}

// pairs reads n key/value pairs as map entries.
func (c *jsCursor) pairs(n int) ([]Entry, bool) {
	es := make([]Entry, 0, min(n, len(c.parts)/2))
	for i := 0; i < n; i++ {
		k, ok := c.object()
		if !ok {
			return nil, false
		}
		v, ok := c.object()
		if !ok {
			return nil, false
		}
		es = append(es, Entry{Key: entryKey(k), Value: v})
	}
	return es, true
}

func findSlot(slots []jsSlot, class string) *jsSlot {
	for i := range slots {
		if slots[i].class.name == class {
			return &slots[i]
		}
	}
	return nil
}

// slotField finds a field of any class in the hierarchy.
func slotField(slots []jsSlot, name string) (Value, bool) {
	for _, s := range slots {
		for _, e := range s.fields {
			if e.Key == name {
				return e.Value, true
			}
		}
	}
	return Value{}, false
}

// javaBoxed maps the boxed primitive classes to the type code of their
// "value" field.
var javaBoxed = map[string]byte{
	"java.lang.Long": 'J', "java.lang.Integer": 'I', "java.lang.Short": 'S', "java.lang.Byte": 'B',
	"java.lang.Double": 'D', "java.lang.Float": 'F', "java.lang.Boolean": 'Z', "java.lang.Character": 'C',
}

// slotCursor is a cursor over the data class's own writeObject wrote, false when the
// stream has no such slot.
func slotCursor(slots []jsSlot, class string) (jsCursor, bool) {
	s := findSlot(slots, class)
	if s == nil {
		return jsCursor{}, false
	}
	return jsCursor{parts: s.parts}, true
}

// countedList reads what the JDK's lists and sets write last: a count, then that
// many elements, and nothing after them.
func (c *jsCursor) countedList() (Value, bool) {
	n, ok := c.count(1)
	if !ok {
		return Value{}, false
	}
	items, ok := c.objects(n)
	return listValue(items, ok && c.done())
}

// countedMap reads what the JDK's maps write last: a count, then that many key and
// value pairs, and nothing after them.
func (c *jsCursor) countedMap() (Value, bool) {
	n, ok := c.count(2)
	if !ok {
		return Value{}, false
	}
	es, ok := c.pairs(n)
	return mapValue(es, ok && c.done())
}

// wellKnownJava decodes the JDK classes whose layout is documented (their
// serialized form, in the JDK's javadoc). It reports false when the data does
// not have that layout, and the object is then shown like any other.
func wellKnownJava(class string, slots []jsSlot) (Value, bool) {
	if code, ok := javaBoxed[class]; ok {
		s := findSlot(slots, class)
		if s == nil || len(s.class.fields) != 1 || s.class.fields[0].code != code || s.class.fields[0].name != "value" {
			return Value{}, false
		}
		return s.fields[0].Value, true
	}
	switch class {
	case "java.util.HashMap", "java.util.LinkedHashMap", "java.util.Hashtable":
		// HashMap: capacity, size, then size key/value pairs; Hashtable:
		// table length, count, then the pairs.
		s := findSlot(slots, "java.util.HashMap")
		if class == "java.util.Hashtable" {
			s = findSlot(slots, class)
		}
		if s == nil {
			return Value{}, false
		}
		c := jsCursor{parts: s.parts}
		if _, ok := c.int32(); !ok {
			return Value{}, false
		}
		return c.countedMap()
	case "java.util.TreeMap":
		c, ok := slotCursor(slots, class)
		if !ok {
			return Value{}, false
		}
		return c.countedMap()
	case "java.util.concurrent.ConcurrentHashMap":
		// Key/value pairs, then a null key and value.
		s := findSlot(slots, class)
		if s == nil {
			return Value{}, false
		}
		c := jsCursor{parts: s.parts}
		var es []Entry
		for {
			k, ok := c.object()
			if !ok {
				return Value{}, false
			}
			v, ok := c.object()
			if !ok {
				return Value{}, false
			}
			if k.Kind == KindNull && v.Kind == KindNull {
				break
			}
			es = append(es, Entry{Key: entryKey(k), Value: v})
		}
		return mapValue(es, c.done())
	case "java.util.ArrayList":
		// The size field, then the capacity and size elements.
		s := findSlot(slots, class)
		size, ok := slotField(slots, "size")
		if s == nil || !ok || size.Kind != KindInt || size.Int < 0 {
			return Value{}, false
		}
		c := jsCursor{parts: s.parts}
		if _, ok := c.int32(); !ok || int(size.Int) > len(s.parts) {
			return Value{}, false
		}
		items, ok := c.objects(int(size.Int))
		return listValue(items, ok && c.done())
	case "java.util.LinkedList":
		c, ok := slotCursor(slots, class)
		if !ok {
			return Value{}, false
		}
		return c.countedList()
	case "java.util.HashSet", "java.util.LinkedHashSet":
		// Capacity, load factor, size, then the elements.
		c, ok := slotCursor(slots, "java.util.HashSet")
		if !ok {
			return Value{}, false
		}
		if _, ok := c.bytes(8); !ok {
			return Value{}, false
		}
		return c.countedList()
	case "java.util.TreeSet":
		// The comparator, size, then the elements.
		c, ok := slotCursor(slots, class)
		if !ok {
			return Value{}, false
		}
		if _, ok := c.object(); !ok {
			return Value{}, false
		}
		return c.countedList()
	case "java.util.CollSer":
		// What List.of, Set.of and Map.of write: a tag field, then a count
		// and that many objects (keys and values alternating for a map).
		s := findSlot(slots, class)
		tag, ok := slotField(slots, "tag")
		if s == nil || !ok || tag.Kind != KindInt {
			return Value{}, false
		}
		c := jsCursor{parts: s.parts}
		n, ok := c.count(1)
		if !ok {
			return Value{}, false
		}
		switch tag.Int & 0xff {
		case 1, 2:
			items, ok := c.objects(n)
			return listValue(items, ok && c.done())
		case 3:
			if n%2 != 0 {
				return Value{}, false
			}
			es, ok := c.pairs(n / 2)
			return mapValue(es, ok && c.done())
		}
		return Value{}, false
	case "java.util.Date":
		s := findSlot(slots, class)
		if s == nil {
			return Value{}, false
		}
		c := jsCursor{parts: s.parts}
		ms, ok := c.int64()
		if !ok || !c.done() {
			return Value{}, false
		}
		return Value{Kind: KindString, Str: time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")}, true
	case "java.math.BigInteger":
		return javaBigInteger(slots)
	case "java.math.BigDecimal":
		return javaBigDecimal(slots)
	case "java.util.Arrays$ArrayList":
		if a, ok := slotField(slots, "a"); ok && a.Kind == KindList {
			return a, true
		}
		return Value{}, false
	case "java.util.Collections$EmptyList", "java.util.Collections$EmptySet":
		return Value{Kind: KindList, Items: []Value{}}, true
	case "java.util.Collections$EmptyMap":
		return Value{Kind: KindMap, Entries: []Entry{}}, true
	case "java.util.Collections$SingletonList", "java.util.Collections$SingletonSet":
		if e, ok := slotField(slots, "element"); ok {
			return Value{Kind: KindList, Items: []Value{e}}, true
		}
		return Value{}, false
	case "java.util.Collections$SingletonMap":
		k, okK := slotField(slots, "k")
		v, okV := slotField(slots, "v")
		if okK && okV {
			return Value{Kind: KindMap, Entries: []Entry{{Key: entryKey(k), Value: v}}}, true
		}
		return Value{}, false
	}
	// Collections.unmodifiableList(...), synchronizedMap(...) and the like:
	// the wrapped collection.
	if strings.HasPrefix(class, "java.util.Collections$Unmodifiable") || strings.HasPrefix(class, "java.util.Collections$Synchronized") ||
		strings.HasPrefix(class, "java.util.Collections$Checked") {
		for _, name := range []string{"c", "m"} {
			if v, ok := slotField(slots, name); ok {
				return v, true
			}
		}
	}
	return Value{}, false
}

// maxBigDigits bounds the magnitude, in bytes, of a BigInteger shown as a
// number: converting a longer one to decimal would cost more than it shows.
const maxBigDigits = 64

// javaBigInteger reads BigInteger's serialized form (signum and a big-endian
// magnitude): KindInt when it fits an int64, else its decimal digits as a
// KindString.
func javaBigInteger(slots []jsSlot) (Value, bool) {
	sign, okS := slotField(slots, "signum")
	mag, okM := slotField(slots, "magnitude")
	if !okS || !okM || sign.Kind != KindInt || mag.Kind != KindString || len(mag.Str) > maxBigDigits || sign.Int < -1 || sign.Int > 1 {
		return Value{}, false
	}
	n := new(big.Int).SetBytes([]byte(mag.Str))
	if sign.Int < 0 {
		n.Neg(n)
	}
	if n.IsInt64() {
		return Value{Kind: KindInt, Int: n.Int64()}, true
	}
	return Value{Kind: KindString, Str: n.String()}, true
}

// javaBigDecimal reads BigDecimal's serialized form (an unscaled BigInteger
// and a scale) into its plain decimal text, "12.50", as a KindString: Value
// has no decimal type and a float would round it.
func javaBigDecimal(slots []jsSlot) (Value, bool) {
	scale, okS := slotField(slots, "scale")
	unscaled, okU := slotField(slots, "intVal")
	if !okS || !okU || scale.Kind != KindInt || scale.Int < -maxBigDigits || scale.Int > maxBigDigits {
		return Value{}, false
	}
	var digits string
	switch unscaled.Kind {
	case KindInt:
		digits = strconv.FormatInt(unscaled.Int, 10)
	case KindString:
		digits = unscaled.Str
	default:
		return Value{}, false
	}
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	switch k := int(scale.Int); {
	case k < 0:
		digits += strings.Repeat("0", -k)
	case k > 0:
		if len(digits) <= k {
			digits = strings.Repeat("0", k-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-k] + "." + digits[len(digits)-k:]
	}
	if neg {
		digits = "-" + digits
	}
	return Value{Kind: KindString, Str: digits}, true
}

// listValue and mapValue finish a well-known collection; ok is false when
// its custom data did not have the documented layout (every part read).
func listValue(items []Value, ok bool) (Value, bool) {
	if !ok {
		return Value{}, false
	}
	if items == nil {
		items = []Value{}
	}
	return Value{Kind: KindList, Items: items}, true
}

func mapValue(es []Entry, ok bool) (Value, bool) {
	if !ok {
		return Value{}, false
	}
	if es == nil {
		es = []Entry{}
	}
	return Value{Kind: KindMap, Entries: es}, true
}

// decodeJavaValue reads a whole stream holding one object, as Spring's
// JdkSerializationRedisSerializer writes it.
func decodeJavaValue(data []byte, b *budget) (Value, error) {
	if len(data) < len(javaMagic) {
		if string(data) != string(javaMagic[:len(data)]) {
			return Value{}, errAt(0, ErrSyntax, "not AC ED 00 05")
		}
		return Value{}, errAt(len(data), ErrTruncated, "expected the AC ED 00 05 header")
	}
	if string(data[:len(javaMagic)]) != string(javaMagic) {
		return Value{}, errAt(0, ErrSyntax, "not AC ED 00 05")
	}
	p := &jsParser{src: string(data), pos: len(javaMagic), b: b}
	v, err := p.content(0)
	if err != nil {
		return Value{}, err
	}
	if p.pos != len(p.src) {
		return Value{}, p.errAt(ErrSyntax, "trailing data after the object")
	}
	return v, nil
}

// decodeJavaSerial decodes a Java-serialized session: a top-level Map's
// entries become Fields, another object's fields do, and any other value
// becomes a single field named "".
func decodeJavaSerial(data []byte, b *budget) (*Payload, error) {
	v, err := decodeJavaValue(data, b)
	if err != nil {
		return nil, fmt.Errorf("java serialization: %w", err)
	}
	fields := []Entry{{Key: "", Value: v}}
	if v.Kind == KindMap || v.Kind == KindObject && v.Str == "" {
		fields = v.Entries
	}
	return &Payload{Format: FormatJavaSerial, Fields: fields}, nil
}
