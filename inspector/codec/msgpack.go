package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// mpParser reads msgpack with vmihailenco/msgpack's Decoder, but only for
// type codes and headers (lengths, counts, numbers). The library is not
// trusted with declared lengths: Decoder.DecodeBytes does make([]byte, 0, n)
// straight from the header (up to 4 GiB from a 5-byte input), DecodeString
// grows its buffer to the declared size in 1 MiB steps, and DecodeSlice /
// DecodeMap preallocate up to a million elements. So every length is checked
// against the bytes left in the input first, and string, binary and extension
// bodies are taken as sub-slices of the input, never read through the
// library. Walking the codes ourselves also keeps map keys in input order,
// which DecodeInterface (a Go map) would lose.
type mpParser struct {
	data []byte
	r    *bytes.Reader
	dec  *msgpack.Decoder
	b    *budget
}

func newMsgpackParser(data []byte, b *budget) *mpParser {
	r := bytes.NewReader(data)
	// bytes.Reader is an io.ByteScanner, so the Decoder reads from it
	// directly, without a bufio.Reader reading ahead: r.Len() is exactly the
	// number of bytes the Decoder has not consumed.
	return &mpParser{data: data, r: r, dec: msgpack.NewDecoder(r), b: b}
}

func (p *mpParser) pos() int { return len(p.data) - p.r.Len() }

func (p *mpParser) libErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errAt(p.pos(), ErrTruncated, "unexpected end of msgpack")
	}
	return errAt(p.pos(), ErrSyntax, err.Error())
}

// body takes n bytes of the input after checking they exist.
func (p *mpParser) body(n int, what string) ([]byte, error) {
	if n < 0 || n > p.r.Len() {
		return nil, errLength(p.pos(), what+" length", uint64(max(n, 0)), p.r.Len())
	}
	start := p.pos()
	if _, err := p.r.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, p.libErr(err)
	}
	return p.data[start : start+n], nil
}

func (p *mpParser) value(depth int) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, errAt(p.pos(), err, "too many values")
	}
	c, err := p.dec.PeekCode()
	if err != nil {
		return Value{}, p.libErr(err)
	}
	switch {
	case c == msgpcode.Nil:
		_ = p.dec.DecodeNil()
		return Value{Kind: KindNull}, nil
	case c == msgpcode.False || c == msgpcode.True:
		b, err := p.dec.DecodeBool()
		if err != nil {
			return Value{}, p.libErr(err)
		}
		return Value{Kind: KindBool, Bool: b}, nil
	case c == msgpcode.Uint64:
		u, err := p.dec.DecodeUint64()
		if err != nil {
			return Value{}, p.libErr(err)
		}
		if u > 1<<63-1 {
			// Beyond int64: shown as a float (approximate); no session
			// library writes such numbers.
			return Value{Kind: KindFloat, Float: float64(u)}, nil
		}
		return Value{Kind: KindInt, Int: int64(u)}, nil
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
		n, err := p.dec.DecodeInt64()
		if err != nil {
			return Value{}, p.libErr(err)
		}
		return Value{Kind: KindInt, Int: n}, nil
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := p.dec.DecodeFloat64()
		if err != nil {
			return Value{}, p.libErr(err)
		}
		return Value{Kind: KindFloat, Float: f}, nil
	case msgpcode.IsString(c) || msgpcode.IsBin(c):
		s, err := p.str()
		return Value{Kind: KindString, Str: s}, err
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		return p.array(depth)
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return p.mapValue(depth)
	case msgpcode.IsExt(c):
		return p.ext()
	}
	return Value{}, errAt(p.pos(), ErrSyntax, fmt.Sprintf("unknown msgpack code 0x%02x", c))
}

// str reads a str or bin item as a string.
func (p *mpParser) str() (string, error) {
	n, err := p.dec.DecodeBytesLen()
	if err != nil {
		return "", p.libErr(err)
	}
	b, err := p.body(n, "string")
	return string(b), err
}

func (p *mpParser) array(depth int) (Value, error) {
	n, err := p.dec.DecodeArrayLen()
	if err != nil {
		return Value{}, p.libErr(err)
	}
	// Every element takes at least one byte.
	if n < 0 || n > p.r.Len() {
		return Value{}, errLength(p.pos(), "array count", uint64(max(n, 0)), p.r.Len())
	}
	if depth+1 > p.b.maxDepth {
		return Value{}, errTooDeep(p.pos(), p.b.maxDepth)
	}
	items := make([]Value, 0, p.b.capHint(uint64(n), p.r.Len()))
	for i := 0; i < n; i++ {
		v, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		items = append(items, v)
	}
	return Value{Kind: KindList, Items: items}, nil
}

func (p *mpParser) mapValue(depth int) (Value, error) {
	n, err := p.dec.DecodeMapLen()
	if err != nil {
		return Value{}, p.libErr(err)
	}
	// Every entry takes at least two bytes (a key and a value).
	if n < 0 || n > p.r.Len()/2 {
		return Value{}, errLength(p.pos(), "map count", uint64(max(n, 0)), p.r.Len())
	}
	if depth+1 > p.b.maxDepth {
		return Value{}, errTooDeep(p.pos(), p.b.maxDepth)
	}
	es := make([]Entry, 0, p.b.capHint(uint64(n), p.r.Len()/2))
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
	return Value{Kind: KindMap, Entries: es}, nil
}

// msgpackTimestamp is the extension type msgpack reserves for timestamps.
const msgpackTimestamp = -1

func (p *mpParser) ext() (Value, error) {
	id, n, err := p.dec.DecodeExtHeader()
	if err != nil {
		return Value{}, p.libErr(err)
	}
	b, err := p.body(n, "extension")
	if err != nil {
		return Value{}, err
	}
	if id == msgpackTimestamp {
		if t, ok := msgpackTime(b); ok {
			return Value{Kind: KindString, Str: t.UTC().Format(time.RFC3339Nano)}, nil
		}
	}
	return Value{Kind: KindOpaque, Opaque: OpaqueOf(b, FormatMsgpackExt, false)}, nil
}

// msgpackTime decodes the timestamp extension's three layouts.
func msgpackTime(b []byte) (time.Time, bool) {
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0), true
	case 8:
		v := binary.BigEndian.Uint64(b)
		nsec := int64(v >> 34)
		if nsec > 999999999 {
			return time.Time{}, false
		}
		return time.Unix(int64(v&(1<<34-1)), nsec), true
	case 12:
		nsec := int64(binary.BigEndian.Uint32(b))
		if nsec > 999999999 {
			return time.Time{}, false
		}
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), nsec), true
	}
	return time.Time{}, false
}

// decodeMsgpack decodes a msgpack session (Flask-Session's default): a map's
// keys become Fields; any other value becomes a single field named "".
func decodeMsgpack(data []byte, b *budget) (*Payload, error) {
	p := newMsgpackParser(data, b)
	v, err := p.value(0)
	if err != nil {
		return nil, fmt.Errorf("msgpack session: %w", err)
	}
	if p.r.Len() != 0 {
		return nil, fmt.Errorf("msgpack session: %w", errAt(p.pos(), ErrSyntax, "trailing data after the value"))
	}
	return &Payload{Format: FormatMsgpack, Fields: jsonFields(v)}, nil
}
