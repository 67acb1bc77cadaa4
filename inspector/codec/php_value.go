package codec

import (
	"math"
	"strconv"
	"strings"
)

// phpParser reads PHP serialize() values. The input is converted to a string
// once and every decoded string is a substring of it, so a payload costs one
// copy however many strings it holds.
type phpParser struct {
	src string
	pos int
	b   *budget
}

func newPHPParser(src string, b *budget) *phpParser {
	return &phpParser{src: src, b: b}
}

func (p *phpParser) remaining() int { return len(p.src) - p.pos }

func (p *phpParser) errAt(sentinel error, msg string) error { return errAt(p.pos, sentinel, msg) }

// expect consumes c or fails; running out of input is ErrTruncated, anything
// else ErrSyntax.
func (p *phpParser) expect(c byte) error {
	if p.pos >= len(p.src) {
		return p.errAt(ErrTruncated, "expected "+strconv.QuoteRune(rune(c)))
	}
	if p.src[p.pos] != c {
		return p.errAt(ErrSyntax, "expected "+strconv.QuoteRune(rune(c))+", found "+strconv.QuoteRune(rune(p.src[p.pos])))
	}
	p.pos++
	return nil
}

// maxDeclared caps declared lengths and counts while their digits are read,
// before any comparison with the input: nothing in a session payload is
// anywhere near 2^53, and the cap keeps the arithmetic far from overflow.
const maxDeclared = 1 << 53

// uint reads PHP's uiv ([0-9]+) without strconv: session payloads are mostly
// lengths and small integers, and this is the hot path.
func (p *phpParser) uint() (uint64, error) {
	start := p.pos
	var n uint64
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
		if n > maxDeclared {
			return 0, p.errAt(ErrTooLarge, "number too large")
		}
		p.pos++
	}
	if p.pos == start {
		if p.pos >= len(p.src) {
			return 0, p.errAt(ErrTruncated, "expected digits")
		}
		return 0, p.errAt(ErrSyntax, "expected digits")
	}
	return n, nil
}

// int reads PHP's iv ([+-]?[0-9]+) into an int64, rejecting overflow as PHP
// does. It returns the digits as written, which array keys reuse.
func (p *phpParser) int() (int64, string, error) {
	start := p.pos
	neg := false
	if p.pos < len(p.src) && (p.src[p.pos] == '-' || p.src[p.pos] == '+') {
		neg = p.src[p.pos] == '-'
		p.pos++
	}
	digits := p.pos
	var n uint64
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c < '0' || c > '9' {
			break
		}
		if n > (math.MaxUint64-9)/10 {
			return 0, "", p.errAt(ErrSyntax, "integer out of range")
		}
		n = n*10 + uint64(c-'0')
		p.pos++
	}
	if p.pos == digits {
		if p.pos >= len(p.src) {
			return 0, "", p.errAt(ErrTruncated, "expected digits")
		}
		return 0, "", p.errAt(ErrSyntax, "expected digits")
	}
	if neg {
		if n > 1<<63 {
			return 0, "", p.errAt(ErrSyntax, "integer out of range")
		}
		return -int64(n), p.src[start:p.pos], nil
	}
	if n > math.MaxInt64 {
		return 0, "", p.errAt(ErrSyntax, "integer out of range")
	}
	return int64(n), p.src[start:p.pos], nil
}

// quoted reads `N:"bytes"` (the length, colon and quoted bytes) and returns
// the bytes. The declared length is checked against the input before use.
func (p *phpParser) quoted(what string) (string, error) {
	n, err := p.uint()
	if err != nil {
		return "", err
	}
	if err := p.expect(':'); err != nil {
		return "", err
	}
	if err := p.expect('"'); err != nil {
		return "", err
	}
	// +1 for the closing quote.
	if n+1 > uint64(p.remaining()) {
		return "", errLength(p.pos, what+" length", n, p.remaining())
	}
	s := p.src[p.pos : p.pos+int(n)]
	p.pos += int(n)
	if err := p.expect('"'); err != nil {
		return "", err
	}
	return s, nil
}

// value reads one serialized value. depth is the number of containers
// already open around it.
func (p *phpParser) value(depth int) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, p.errAt(err, "too many values")
	}
	if p.remaining() < 2 {
		return Value{}, p.errAt(ErrTruncated, "expected a value")
	}
	t := p.src[p.pos]
	if t == 'N' {
		if p.src[p.pos+1] != ';' {
			return Value{}, p.errAt(ErrSyntax, "expected ';' after N")
		}
		p.pos += 2
		return Value{Kind: KindNull}, nil
	}
	if p.src[p.pos+1] != ':' {
		return Value{}, p.errAt(ErrSyntax, "expected a type letter and ':'")
	}
	p.pos += 2
	switch t {
	case 'b':
		if p.remaining() < 2 {
			return Value{}, p.errAt(ErrTruncated, "expected 0 or 1")
		}
		c := p.src[p.pos]
		if c != '0' && c != '1' {
			return Value{}, p.errAt(ErrSyntax, "expected 0 or 1")
		}
		p.pos++
		if err := p.expect(';'); err != nil {
			return Value{}, err
		}
		return Value{Kind: KindBool, Bool: c == '1'}, nil
	case 'i':
		n, _, err := p.int()
		if err != nil {
			return Value{}, err
		}
		if err := p.expect(';'); err != nil {
			return Value{}, err
		}
		return Value{Kind: KindInt, Int: n}, nil
	case 'd':
		return p.double()
	case 's':
		s, err := p.quoted("string")
		if err != nil {
			return Value{}, err
		}
		if err := p.expect(';'); err != nil {
			return Value{}, err
		}
		return Value{Kind: KindString, Str: s}, nil
	case 'S':
		return p.escapedString()
	case 'a':
		return p.array(depth)
	case 'O':
		return p.object(depth)
	case 'C':
		return p.custom()
	case 'E':
		s, err := p.quoted("enum")
		if err != nil {
			return Value{}, err
		}
		if err := p.expect(';'); err != nil {
			return Value{}, err
		}
		class, cas, ok := strings.Cut(s, ":")
		if !ok {
			return Value{}, p.errAt(ErrSyntax, "enum without ':' between class and case")
		}
		return Value{Kind: KindObject, Class: class, Str: cas}, nil
	case 'r', 'R':
		n, err := p.uint()
		if err != nil {
			return Value{}, err
		}
		if err := p.expect(';'); err != nil {
			return Value{}, err
		}
		return Value{Kind: KindRef, Int: int64(n), Bool: t == 'R'}, nil
	}
	p.pos -= 2
	return Value{}, p.errAt(ErrSyntax, "unknown type "+strconv.QuoteRune(rune(t)))
}

// double reads d:...; PHP writes INF, -INF, NAN, integers and exponents
// (1.0E+25); strconv accepts all of those.
func (p *phpParser) double() (Value, error) {
	end := strings.IndexByte(p.src[p.pos:], ';')
	// A double never needs more than a few dozen characters; bounding the scan
	// keeps a missing ';' from reading the whole payload as a number.
	if end < 0 {
		return Value{}, p.errAt(ErrTruncated, "expected ';' after double")
	}
	if end == 0 || end > 64 {
		return Value{}, p.errAt(ErrSyntax, "malformed double")
	}
	lit := p.src[p.pos : p.pos+end]
	for i := 0; i < len(lit); i++ {
		// strconv also accepts hex floats and underscores, which PHP never
		// writes: keep to PHP's alphabet.
		switch c := lit[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'E', c == 'e',
			c == 'I', c == 'N', c == 'F', c == 'A':
		default:
			return Value{}, p.errAt(ErrSyntax, "malformed double")
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return Value{}, p.errAt(ErrSyntax, "malformed double")
		}
	}
	p.pos += end + 1
	return Value{Kind: KindFloat, Float: f}, nil
}

// escapedString reads S:N:"..."; (PHP's escaped string, where \hh stands for
// one byte). N counts decoded bytes.
func (p *phpParser) escapedString() (Value, error) {
	n, err := p.uint()
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(':'); err != nil {
		return Value{}, err
	}
	if err := p.expect('"'); err != nil {
		return Value{}, err
	}
	if n+1 > uint64(p.remaining()) {
		return Value{}, errLength(p.pos, "string length", n, p.remaining())
	}
	var sb strings.Builder
	for i := uint64(0); i < n; i++ {
		if p.pos >= len(p.src) {
			return Value{}, p.errAt(ErrTruncated, "escaped string")
		}
		c := p.src[p.pos]
		if c != '\\' {
			sb.WriteByte(c)
			p.pos++
			continue
		}
		if p.remaining() < 3 {
			return Value{}, p.errAt(ErrTruncated, "escaped string")
		}
		h, err := strconv.ParseUint(p.src[p.pos+1:p.pos+3], 16, 8)
		if err != nil {
			return Value{}, p.errAt(ErrSyntax, "bad escape in string")
		}
		sb.WriteByte(byte(h))
		p.pos += 3
	}
	if err := p.expect('"'); err != nil {
		return Value{}, err
	}
	if err := p.expect(';'); err != nil {
		return Value{}, err
	}
	return Value{Kind: KindString, Str: sb.String()}, nil
}

// minPHPEntry is the fewest bytes one key/value pair can take (`i:0;N;`), so
// a declared count above remaining/minPHPEntry cannot be honest.
const minPHPEntry = 6

// count reads `N:{` and checks N against the input.
func (p *phpParser) count(what string) (uint64, error) {
	n, err := p.uint()
	if err != nil {
		return 0, err
	}
	if err := p.expect(':'); err != nil {
		return 0, err
	}
	if err := p.expect('{'); err != nil {
		return 0, err
	}
	if n > uint64(p.remaining()/minPHPEntry) {
		return 0, errLength(p.pos, what+" count", n, p.remaining())
	}
	return n, nil
}

// key reads an array key: PHP allows only integers and strings. Integer keys
// become their decimal text as written.
func (p *phpParser) key() (string, error) {
	if p.remaining() < 2 {
		return "", p.errAt(ErrTruncated, "expected a key")
	}
	switch p.src[p.pos] {
	case 'i':
		if p.src[p.pos+1] != ':' {
			return "", p.errAt(ErrSyntax, "expected ':' after i")
		}
		p.pos += 2
		_, lit, err := p.int()
		if err != nil {
			return "", err
		}
		return lit, p.expect(';')
	case 's':
		if p.src[p.pos+1] != ':' {
			return "", p.errAt(ErrSyntax, "expected ':' after s")
		}
		p.pos += 2
		s, err := p.quoted("key")
		if err != nil {
			return "", err
		}
		return s, p.expect(';')
	case 'S':
		if p.src[p.pos+1] != ':' {
			return "", p.errAt(ErrSyntax, "expected ':' after S")
		}
		p.pos += 2
		v, err := p.escapedString()
		return v.Str, err
	}
	return "", p.errAt(ErrSyntax, "array key must be an integer or a string")
}

// entries reads n key/value pairs and the closing brace.
func (p *phpParser) entries(n uint64, depth int, property bool) ([]Entry, error) {
	if depth+1 > p.b.maxDepth {
		return nil, errTooDeep(p.pos, p.b.maxDepth)
	}
	var out []Entry
	if n > 0 {
		out = make([]Entry, 0, p.b.capHint(n, p.remaining()/minPHPEntry))
	}
	for i := uint64(0); i < n; i++ {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if property {
			k = propertyName(k)
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Key: k, Value: v})
	}
	if err := p.expect('}'); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *phpParser) array(depth int) (Value, error) {
	n, err := p.count("array")
	if err != nil {
		return Value{}, err
	}
	es, err := p.entries(n, depth, false)
	if err != nil {
		return Value{}, err
	}
	return Value{Kind: KindMap, Entries: es}, nil
}

// object reads O:len:"Class":n:{props}. The class is only a label: nothing is
// looked up or instantiated.
func (p *phpParser) object(depth int) (Value, error) {
	class, err := p.quoted("class name")
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(':'); err != nil {
		return Value{}, err
	}
	n, err := p.count("property")
	if err != nil {
		return Value{}, err
	}
	es, err := p.entries(n, depth, true)
	if err != nil {
		return Value{}, err
	}
	return Value{Kind: KindObject, Class: class, Entries: es}, nil
}

// custom reads C:len:"Class":len:{raw}: the raw bytes are whatever the
// class's Serializable::serialize wrote, so they stay opaque.
func (p *phpParser) custom() (Value, error) {
	class, err := p.quoted("class name")
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(':'); err != nil {
		return Value{}, err
	}
	n, err := p.uint()
	if err != nil {
		return Value{}, err
	}
	if err := p.expect(':'); err != nil {
		return Value{}, err
	}
	if err := p.expect('{'); err != nil {
		return Value{}, err
	}
	if n+1 > uint64(p.remaining()) {
		return Value{}, errLength(p.pos, "custom data length", n, p.remaining())
	}
	raw := p.src[p.pos : p.pos+int(n)]
	p.pos += int(n)
	if err := p.expect('}'); err != nil {
		return Value{}, err
	}
	return Value{Kind: KindObject, Class: class, Opaque: opaqueOfString(raw, FormatPHPCustom)}, nil
}

// propertyName strips the visibility marker PHP puts in front of protected
// ("\0*\0name") and private ("\0Class\0name") property names, leaving the
// name a developer wrote.
func propertyName(k string) string {
	if len(k) < 2 || k[0] != 0 {
		return k
	}
	if i := strings.IndexByte(k[1:], 0); i >= 0 {
		return k[i+2:]
	}
	return k
}

// decodePHPValue decodes a complete serialize() value from src; trailing
// bytes are an error, since no PHP writer leaves any.
func decodePHPValue(src string, b *budget) (Value, error) {
	p := newPHPParser(src, b)
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	if p.pos != len(src) {
		return Value{}, p.errAt(ErrSyntax, "trailing data after the value")
	}
	return v, nil
}
