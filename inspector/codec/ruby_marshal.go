package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Ruby Marshal 4.8, the format of Marshal.dump since Ruby 1.8 and what
// redis-rack, redis-session-store and Rails' cache-backed session stores
// write. The parser reads it as data only: class and module names are
// labels, nothing is looked up, allocated by class, or called (no _load,
// marshal_load or _load_data), so a payload cannot make sessionscope run
// anything.
//
// How each type decodes:
//   - nil, true, false, Fixnum ('i'), Float ('f'): KindNull, KindBool,
//     KindInt, KindFloat. Bignums ('l') within int64 are KindInt; larger ones
//     are KindOpaque (type ruby_marshal) over the bignum's bytes.
//   - String ('"', with or without the 'I' wrapper that carries its encoding)
//     and Symbol (':' and symlinks ';'): KindString, bytes as written.
//   - Array: KindList. Hash ('{', and '}' with a default value, which is
//     dropped): KindMap; String and Symbol keys are used as is, Integer keys
//     as decimal text.
//   - Object link ('@') to a String, Float or Bignum: that value again. Ruby
//     writes every later Float equal to one already written as a link (Floats
//     are immediates, so the link says nothing about identity), and a String
//     object stored twice (a frozen literal, say) likewise; showing the value
//     keeps such a field's fingerprint independent of where the first copy
//     sits. A link to anything else: KindRef, Int holding Ruby's object index
//     (0 is the top-level value).
//   - Plain object ('o'): KindObject with Class and its instance variables,
//     named without the leading '@'. Struct ('S'): KindObject with its
//     members.
//   - _dump data ('u'): KindObject with Class and an Opaque of the dumped
//     bytes; a Time is decoded from its documented layout into a KindString
//     (RFC 3339, UTC, to the microsecond).
//   - marshal_dump ('U'), _dump_data ('d'), a String/Array/Hash subclass
//     ('C') and an object extended with a module ('e'): KindObject with the
//     class (or module) name and one entry "" holding the wrapped value; a
//     Hash subclass (HashWithIndifferentAccess) holds its entries directly.
//   - Class and Module ('c', 'm', 'M'): KindObject with Class "Class" or
//     "Module" and the name in Str. Regexp ('/'): KindObject "Regexp" with
//     source and options.
//
// Instance variables that the 'I' wrapper adds to a String, Array, Hash,
// Regexp or _dump data (its encoding, or an application's own) are parsed and
// dropped.

// rubyObject is one entry of Marshal's object table, which '@' links index.
// Only scalars (String, Float, Bignum) are remembered, so a link to one can
// stand for its value; kind is KindNull for anything else.
type rubyObject struct {
	kind   Kind
	str    string
	num    float64
	int    int64
	opaque *Opaque
}

func scalarObject(v Value) rubyObject {
	return rubyObject{kind: v.Kind, str: v.Str, num: v.Float, int: v.Int, opaque: v.Opaque}
}

func (o rubyObject) value() (Value, bool) {
	switch o.kind {
	case KindString, KindFloat, KindInt, KindOpaque:
		return Value{Kind: o.kind, Str: o.str, Float: o.num, Int: o.int, Opaque: o.opaque}, true
	}
	return Value{}, false
}

// rmParser reads one Marshal stream. Like phpParser it converts the input to
// a string once, so every decoded string shares that copy.
type rmParser struct {
	src     string
	pos     int
	b       *budget
	symbols []string     // Marshal's symbol table, which ';' indexes
	objects []rubyObject // Marshal's object table, which '@' indexes
	// topHash is set when the top-level value is a Hash subclass ('C'), so
	// its entries still become the session's fields.
	topHash bool
}

func (p *rmParser) remaining() int { return len(p.src) - p.pos }

func (p *rmParser) errAt(sentinel error, msg string) error { return errAt(p.pos, sentinel, msg) }

func (p *rmParser) byte(what string) (byte, error) {
	if p.pos >= len(p.src) {
		return 0, p.errAt(ErrTruncated, "expected "+what)
	}
	c := p.src[p.pos]
	p.pos++
	return c, nil
}

// long reads Marshal's packed integer (r_long): 0; 5..127 and -128..-5 hold
// n±5 in the byte itself; 1..4 and -1..-4 give the count of little-endian
// bytes that follow, negative numbers being filled with 0xff.
func (p *rmParser) long() (int64, error) {
	b, err := p.byte("an integer")
	if err != nil {
		return 0, err
	}
	c := int8(b)
	switch {
	case c == 0:
		return 0, nil
	case c > 4:
		return int64(c) - 5, nil
	case c < -4:
		return int64(c) + 5, nil
	}
	n := int(c)
	var x int64
	if c < 0 {
		n = -n
		x = -1
	}
	if n > p.remaining() {
		return 0, p.errAt(ErrTruncated, "integer bytes")
	}
	for i := 0; i < n; i++ {
		shift := uint(8 * i)
		x &^= 0xff << shift
		x |= int64(p.src[p.pos+i]) << shift
	}
	p.pos += n
	return x, nil
}

// count reads a length or count and checks it against the input: each unit
// takes at least minBytes bytes.
func (p *rmParser) count(what string, minBytes int) (int, error) {
	off := p.pos
	n, err := p.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errAt(off, ErrSyntax, "negative "+what)
	}
	if n > int64(p.remaining()/minBytes) {
		return 0, errLength(p.pos, what, uint64(n), p.remaining())
	}
	return int(n), nil
}

// bytes reads a length and that many bytes.
func (p *rmParser) bytes(what string) (string, error) {
	n, err := p.count(what+" length", 1)
	if err != nil {
		return "", err
	}
	s := p.src[p.pos : p.pos+n]
	p.pos += n
	return s, nil
}

// register adds a value to the object table, as Ruby's loader does for every
// value that is not nil, true, false, a Fixnum or a Symbol.
func (p *rmParser) register(o rubyObject) {
	p.objects = append(p.objects, o)
}

// enter checks that a container opened at depth may hold values.
func (p *rmParser) enter(depth int) error {
	if depth+1 > p.b.maxDepth {
		return errTooDeep(p.pos, p.b.maxDepth)
	}
	return nil
}

// symbol reads a Symbol where the grammar requires one (class names, instance
// variable names, Struct members): ':' with its name, ';' with an index into
// the symbol table, or 'I' ':' for a Symbol carrying its encoding.
func (p *rmParser) symbol(depth int) (string, error) {
	if depth > p.b.maxDepth {
		return "", errTooDeep(p.pos, p.b.maxDepth)
	}
	t, err := p.byte("a symbol")
	if err != nil {
		return "", err
	}
	ivar := false
	if t == 'I' {
		ivar = true
		if t, err = p.byte("a symbol"); err != nil {
			return "", err
		}
		if t != ':' {
			return "", errAt(p.pos-1, ErrSyntax, "instance variables on a symbol link")
		}
	}
	switch t {
	case ':':
		return p.symbolBody(depth, ivar)
	case ';':
		return p.symlink()
	}
	return "", errAt(p.pos-1, ErrSyntax, fmt.Sprintf("expected a symbol, found type 0x%02x", t))
}

// symbolBody reads a new Symbol's name after ':'. It enters the symbol table
// before its instance variables are read, as Ruby numbers them.
func (p *rmParser) symbolBody(depth int, ivar bool) (string, error) {
	name, err := p.bytes("symbol")
	if err != nil {
		return "", err
	}
	p.symbols = append(p.symbols, name)
	if ivar {
		if _, err := p.ivars(depth, false); err != nil {
			return "", err
		}
	}
	return name, nil
}

func (p *rmParser) symlink() (string, error) {
	off := p.pos
	i, err := p.long()
	if err != nil {
		return "", err
	}
	if i < 0 || i >= int64(len(p.symbols)) {
		return "", errAt(off, ErrSyntax, fmt.Sprintf("link to symbol %d of %d", i, len(p.symbols)))
	}
	return p.symbols[i], nil
}

// ivars reads an instance variable list: a count, then name Symbol and value
// pairs. keep returns them (for 'o'); otherwise they are parsed and dropped.
// The encoding flags every String carries (E true/false, or encoding with a
// name) are read in place rather than through value, so a String at the
// deepest allowed level still decodes.
func (p *rmParser) ivars(depth int, keep bool) ([]Entry, error) {
	// A name takes at least two bytes (';' and an index), a value one.
	n, err := p.count("instance variable count", 3)
	if err != nil {
		return nil, err
	}
	var out []Entry
	if keep && n > 0 {
		out = make([]Entry, 0, p.b.capHint(uint64(n), p.remaining()/3))
	}
	for i := 0; i < n; i++ {
		name, err := p.symbol(depth + 1)
		if err != nil {
			return nil, err
		}
		if !keep && p.pos < len(p.src) {
			switch c := p.src[p.pos]; {
			case name == "E" && (c == 'T' || c == 'F'):
				p.pos++
				continue
			case name == "encoding" && c == '"':
				p.pos++
				s, err := p.bytes("encoding name")
				if err != nil {
					return nil, err
				}
				p.register(rubyObject{kind: KindString, str: s})
				continue
			}
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if keep {
			out = append(out, Entry{Key: strings.TrimPrefix(name, "@"), Value: v})
		}
	}
	return out, nil
}

// value reads one value. depth is the number of containers around it.
func (p *rmParser) value(depth int) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, p.errAt(err, "too many values")
	}
	if depth > p.b.maxDepth {
		return Value{}, errTooDeep(p.pos, p.b.maxDepth)
	}
	start := p.pos
	t, err := p.byte("a value")
	if err != nil {
		return Value{}, err
	}
	if t != 'I' {
		return p.typed(t, start, depth)
	}
	// 'I': a value followed by instance variables. Ruby writes it around
	// Strings, Regexps, Symbols, _dump data and objects of other built-in
	// types that carry instance variables; never around immediates or links.
	inner := p.pos
	t, err = p.byte("a value")
	if err != nil {
		return Value{}, err
	}
	var v Value
	switch t {
	case '0', 'T', 'F', 'i', 'I', ';', '@':
		return Value{}, errAt(inner, ErrSyntax, fmt.Sprintf("instance variables on type 0x%02x", t))
	case ':':
		name, err := p.symbolBody(depth, true)
		return Value{Kind: KindString, Str: name}, err
	}
	if v, err = p.typed(t, inner, depth); err != nil {
		return Value{}, err
	}
	if _, err := p.ivars(depth, false); err != nil {
		return Value{}, err
	}
	return v, nil
}

// typed reads the value of type t, whose type byte was at start.
func (p *rmParser) typed(t byte, start, depth int) (Value, error) {
	switch t {
	case '0':
		return Value{Kind: KindNull}, nil
	case 'T', 'F':
		return Value{Kind: KindBool, Bool: t == 'T'}, nil
	case 'i':
		n, err := p.long()
		return Value{Kind: KindInt, Int: n}, err
	case 'l':
		return p.bignum(start)
	case 'f':
		return p.float()
	case '"':
		s, err := p.bytes("string")
		if err != nil {
			return Value{}, err
		}
		p.register(rubyObject{kind: KindString, str: s})
		return Value{Kind: KindString, Str: s}, nil
	case ':':
		name, err := p.symbolBody(depth, false)
		return Value{Kind: KindString, Str: name}, err
	case ';':
		name, err := p.symlink()
		return Value{Kind: KindString, Str: name}, err
	case '@':
		off := p.pos
		i, err := p.long()
		if err != nil {
			return Value{}, err
		}
		if i < 0 || i >= int64(len(p.objects)) {
			return Value{}, errAt(off, ErrSyntax, fmt.Sprintf("link to object %d of %d", i, len(p.objects)))
		}
		if v, ok := p.objects[i].value(); ok {
			if err := p.b.repeat(len(v.Str)); err != nil {
				return Value{}, errAt(off, err, "too many copies of a long String")
			}
			return v, nil
		}
		return Value{Kind: KindRef, Int: i}, nil
	case '[':
		return p.array(depth)
	case '{', '}':
		return p.hash(depth, t == '}')
	case 'o':
		return p.object(depth)
	case 'S':
		return p.structValue(depth)
	case 'u':
		return p.userDump(depth)
	case 'U', 'd', 'e', 'C':
		return p.wrapper(t, depth)
	case 'c', 'm', 'M':
		name, err := p.bytes("class name")
		if err != nil {
			return Value{}, err
		}
		p.register(rubyObject{})
		class := "Module"
		if t == 'c' {
			class = "Class"
		}
		return Value{Kind: KindObject, Class: class, Str: name}, nil
	case '/':
		src, err := p.bytes("regexp")
		if err != nil {
			return Value{}, err
		}
		opts, err := p.byte("regexp options")
		if err != nil {
			return Value{}, err
		}
		p.register(rubyObject{})
		return Value{Kind: KindObject, Class: "Regexp", Entries: []Entry{
			{Key: "source", Value: Value{Kind: KindString, Str: src}},
			{Key: "options", Value: Value{Kind: KindInt, Int: int64(opts)}},
		}}, nil
	}
	return Value{}, errAt(start, ErrSyntax, fmt.Sprintf("unknown Marshal type 0x%02x", t))
}

// bignum reads 'l': a sign, a count of 16-bit words and their little-endian
// bytes. Values beyond int64 stay opaque: Value has no wider integer.
func (p *rmParser) bignum(start int) (Value, error) {
	sign, err := p.byte("a bignum sign")
	if err != nil {
		return Value{}, err
	}
	if sign != '+' && sign != '-' {
		return Value{}, errAt(p.pos-1, ErrSyntax, "bignum sign is not + or -")
	}
	words, err := p.count("bignum length", 2)
	if err != nil {
		return Value{}, err
	}
	mag := p.src[p.pos : p.pos+2*words]
	p.pos += 2 * words
	v := bignumValue(sign, mag)
	if v.Kind != KindInt {
		v = Value{Kind: KindOpaque, Opaque: opaqueOfString(p.src[start:p.pos], FormatRubyMarshal)}
	}
	p.register(scalarObject(v))
	return v, nil
}

// bignumValue is the KindInt of a bignum's little-endian magnitude, or the
// zero Value when it does not fit an int64.
func bignumValue(sign byte, mag string) Value {
	mag = strings.TrimRight(mag, "\x00")
	if len(mag) > 8 {
		return Value{}
	}
	var buf [8]byte
	copy(buf[:], mag)
	u := binary.LittleEndian.Uint64(buf[:])
	switch {
	case sign == '+' && u <= math.MaxInt64:
		return Value{Kind: KindInt, Int: int64(u)}
	case sign == '-' && u <= 1<<63:
		return Value{Kind: KindInt, Int: int64(-u)}
	}
	return Value{}
}

// float reads 'f': the number as text ("1.5", "1e100", "-0", "nan", "inf",
// "-inf"). Ruby 1.8 appended mantissa bytes after a NUL; they are ignored.
func (p *rmParser) float() (Value, error) {
	off := p.pos
	s, err := p.bytes("float")
	if err != nil {
		return Value{}, err
	}
	v, err := parseRubyFloat(s)
	if err != nil {
		return Value{}, errAt(off, ErrSyntax, err.Error())
	}
	p.register(scalarObject(v))
	return v, nil
}

// parseRubyFloat reads the text of a Float.
func parseRubyFloat(s string) (Value, error) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	switch s {
	case "nan":
		return Value{Kind: KindFloat, Float: math.NaN()}, nil
	case "inf":
		return Value{Kind: KindFloat, Float: math.Inf(1)}, nil
	case "-inf":
		return Value{Kind: KindFloat, Float: math.Inf(-1)}, nil
	}
	if s == "" || len(s) > 64 {
		return Value{}, errMalformedFloat
	}
	for i := 0; i < len(s); i++ {
		// strconv also takes hex floats, "infinity" and underscores, which
		// Ruby never writes: keep to its alphabet.
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return Value{}, errMalformedFloat
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return Value{}, errMalformedFloat
		}
	}
	return Value{Kind: KindFloat, Float: f}, nil
}

var errMalformedFloat = errors.New("malformed float")

func (p *rmParser) array(depth int) (Value, error) {
	// Every element takes at least one byte.
	n, err := p.count("array count", 1)
	if err != nil {
		return Value{}, err
	}
	if err := p.enter(depth); err != nil {
		return Value{}, err
	}
	p.register(rubyObject{})
	items := make([]Value, 0, p.b.capHint(uint64(n), p.remaining()))
	for i := 0; i < n; i++ {
		v, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		items = append(items, v)
	}
	return Value{Kind: KindList, Items: items}, nil
}

// hash reads '{' (or '}', a Hash with a default value, read and dropped).
func (p *rmParser) hash(depth int, withDefault bool) (Value, error) {
	// Every pair takes at least two bytes.
	n, err := p.count("hash count", 2)
	if err != nil {
		return Value{}, err
	}
	if err := p.enter(depth); err != nil {
		return Value{}, err
	}
	p.register(rubyObject{})
	es := make([]Entry, 0, p.b.capHint(uint64(n), p.remaining()/2))
	for i := 0; i < n; i++ {
		k, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		es = append(es, Entry{Key: entryKey(k), Value: v})
	}
	if withDefault {
		if _, err := p.value(depth + 1); err != nil {
			return Value{}, err
		}
	}
	return Value{Kind: KindMap, Entries: es}, nil
}

// object reads 'o': a class name and instance variables. The class is only a
// label.
func (p *rmParser) object(depth int) (Value, error) {
	class, err := p.symbol(depth)
	if err != nil {
		return Value{}, err
	}
	if err := p.enter(depth); err != nil {
		return Value{}, err
	}
	p.register(rubyObject{})
	es, err := p.ivars(depth, true)
	if err != nil {
		return Value{}, err
	}
	return Value{Kind: KindObject, Class: class, Entries: es}, nil
}

// structValue reads 'S': a Struct class name and member/value pairs.
func (p *rmParser) structValue(depth int) (Value, error) {
	class, err := p.symbol(depth)
	if err != nil {
		return Value{}, err
	}
	n, err := p.count("struct member count", 3)
	if err != nil {
		return Value{}, err
	}
	if err := p.enter(depth); err != nil {
		return Value{}, err
	}
	p.register(rubyObject{})
	es := make([]Entry, 0, p.b.capHint(uint64(n), p.remaining()/3))
	for i := 0; i < n; i++ {
		name, err := p.symbol(depth + 1)
		if err != nil {
			return Value{}, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		es = append(es, Entry{Key: name, Value: v})
	}
	return Value{Kind: KindObject, Class: class, Entries: es}, nil
}

// userDump reads 'u': a class name and the bytes its _dump method wrote.
func (p *rmParser) userDump(depth int) (Value, error) {
	class, err := p.symbol(depth)
	if err != nil {
		return Value{}, err
	}
	data, err := p.bytes("_dump data")
	if err != nil {
		return Value{}, err
	}
	p.register(rubyObject{})
	if class == "Time" {
		if t, ok := rubyTime(data); ok {
			return Value{Kind: KindString, Str: t.Format(time.RFC3339Nano)}, nil
		}
	}
	return Value{Kind: KindObject, Class: class, Opaque: opaqueOfString(data, FormatRubyMarshal)}, nil
}

// wrapper reads the types made of a class or module name and one value:
// 'U' (marshal_dump), 'd' (_dump_data), 'C' (a subclass of String, Array,
// Hash or Regexp) and 'e' (an object extended with a module).
func (p *rmParser) wrapper(t byte, depth int) (Value, error) {
	name, err := p.symbol(depth)
	if err != nil {
		return Value{}, err
	}
	if err := p.enter(depth); err != nil {
		return Value{}, err
	}
	switch t {
	case 'U', 'd':
		// Ruby allocates (and numbers) the object before reading its data.
		p.register(rubyObject{})
	case 'C':
		// Only String, Array, Hash and Regexp can be subclassed this way.
		if p.pos < len(p.src) {
			switch c := p.src[p.pos]; c {
			case '"', '[', '{', '}', '/':
			default:
				return Value{}, p.errAt(ErrSyntax, fmt.Sprintf("user class around type 0x%02x", c))
			}
		}
	}
	v, err := p.value(depth + 1)
	if err != nil {
		return Value{}, err
	}
	if t == 'C' && v.Kind == KindMap {
		if depth == 0 {
			p.topHash = true
		}
		return Value{Kind: KindObject, Class: name, Entries: v.Entries}, nil
	}
	return Value{Kind: KindObject, Class: name, Entries: []Entry{{Key: "", Value: v}}}, nil
}

// rubyTime decodes the 8 bytes Time#_dump writes: two little-endian 32-bit
// words holding the UTC broken-down time (a set top bit marks this layout,
// then the UTC flag, year-1900, month-1, day, hour; minute, second,
// microsecond). Sub-microsecond digits, the zone and the offset travel as
// instance variables and are not shown. A year outside what the word holds
// (Ruby then clamps it and adds a year variable) is not decoded.
func rubyTime(data string) (time.Time, bool) {
	if len(data) != 8 {
		return time.Time{}, false
	}
	hi := binary.LittleEndian.Uint32([]byte(data[:4]))
	lo := binary.LittleEndian.Uint32([]byte(data[4:]))
	if hi&(1<<31) == 0 {
		return time.Time{}, false
	}
	yearField := int(hi >> 14 & 0xffff)
	mon := int(hi>>10&0xf) + 1
	day := int(hi >> 5 & 0x1f)
	hour := int(hi & 0x1f)
	minute := int(lo >> 26)
	sec := int(lo >> 20 & 0x3f)
	usec := int(lo & 0xfffff)
	if yearField == 0 || yearField == 0xffff || mon > 12 || day < 1 || hour > 23 || minute > 59 || sec > 60 || usec > 999_999 {
		return time.Time{}, false
	}
	t := time.Date(1900+yearField, time.Month(mon), day, hour, minute, sec, usec*1000, time.UTC)
	if t.Day() != day && sec != 60 {
		return time.Time{}, false // a day the month does not have
	}
	return t, true
}

// decodeRubyMarshal decodes a Marshal-dumped session (Rack::Session::Redis,
// redis-session-store): a top-level Hash's entries become Fields; any other
// value becomes a single field named "".
func decodeRubyMarshal(data []byte, b *budget) (*Payload, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("ruby marshal session: %w", errAt(len(data), ErrTruncated, "expected the 04 08 version"))
	}
	if data[0] != 4 || data[1] != 8 {
		return nil, fmt.Errorf("ruby marshal session: %w", errAt(0, ErrSyntax, fmt.Sprintf("version %d.%d is not 4.8", data[0], data[1])))
	}
	p := &rmParser{src: string(data), pos: 2, b: b}
	v, err := p.value(0)
	if err != nil {
		return nil, fmt.Errorf("ruby marshal session: %w", err)
	}
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("ruby marshal session: %w", p.errAt(ErrSyntax, "trailing data after the value"))
	}
	fields := []Entry{{Key: "", Value: v}}
	if v.Kind == KindMap || p.topHash {
		fields = v.Entries
	}
	return &Payload{Format: FormatRubyMarshal, Fields: fields}, nil
}
