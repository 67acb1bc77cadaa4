package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Spring Session's hash fields (RedisIndexedSessionRepository).
const (
	springCreationTime        = "creationTime"
	springLastAccessedTime    = "lastAccessedTime"
	springMaxInactiveInterval = "maxInactiveInterval"
	springAttrPrefix          = "sessionAttr:"
)

// javaMagic is the stream header of Java serialization (STREAM_MAGIC,
// STREAM_VERSION 5).
var javaMagic = []byte{0xac, 0xed, 0x00, 0x05}

// DecodeSpringHash decodes a Spring Session hash. creationTime and
// lastAccessedTime (ms since the epoch) and maxInactiveInterval (seconds)
// fill Meta.Spring, whichever serializer wrote them: JDK serialization
// (java.lang.Long / java.lang.Integer), Jackson JSON (a number, or
// ["java.lang.Long", n] with default typing) or plain decimal text. They are
// not Fields, since lastAccessedTime changes on every request; a value none
// of those readings fits is kept as a Field under its own name instead.
// Each `sessionAttr:NAME` becomes the Field NAME: Java-serialized values
// (AC ED 00 05) are read as data only (see javaser.go; opaque when they do not
// decode), JSON is decoded, anything else is opaque. Other fields are kept
// under their own names.
func DecodeSpringHash(fields []HashField, lim Limits) (*Payload, error) {
	b := newBudget(lim)
	p := &Payload{Format: FormatSpringHash}
	var meta SpringMeta
	haveMeta := false
	for _, f := range fields {
		p.Size += len(f.Name) + len(f.Value)
		switch f.Name {
		case springCreationTime, springLastAccessedTime:
			if ms, ok := springNumber(f.Value); ok {
				t := time.UnixMilli(ms).UTC()
				if f.Name == springCreationTime {
					meta.CreationTime = t
				} else {
					meta.LastAccessedTime = t
				}
				haveMeta = true
				continue
			}
		case springMaxInactiveInterval:
			if s, ok := springNumber(f.Value); ok {
				meta.MaxInactiveInterval = s
				haveMeta = true
				continue
			}
		}
		key := strings.TrimPrefix(f.Name, springAttrPrefix)
		v, err := springValue(f.Value, b)
		if err != nil {
			return nil, fmt.Errorf("spring session: field %s: %w", quoteName(f.Name), err)
		}
		p.Fields = append(p.Fields, Entry{Key: key, Value: v})
	}
	if haveMeta {
		p.Meta.Spring = &meta
	}
	p.Digest = hashFieldsDigest(fields)
	return p, nil
}

// springValue shows an attribute: Java serialization and JSON are decoded,
// anything else is opaque. Only limit errors fail the payload: bytes that
// merely do not decode are shown as they are.
func springValue(raw []byte, b *budget) (Value, error) {
	if bytes.HasPrefix(raw, javaMagic) {
		saved := *b
		v, err := decodeJavaValue(raw, b)
		if err == nil {
			return v, nil
		}
		if isLimitError(err) {
			return Value{}, err
		}
		*b = saved
		return Value{Kind: KindOpaque, Opaque: OpaqueOf(raw, FormatJavaSerial, false)}, nil
	}
	if c := firstNonSpace(raw); c == '{' || c == '[' || c == '"' || (c >= '0' && c <= '9') || c == '-' || c == 't' || c == 'f' || c == 'n' {
		saved := *b
		v, err := decodeJSONValue(raw, b)
		if err == nil {
			return v, nil
		}
		if isLimitError(err) {
			return Value{}, err
		}
		*b = saved
	}
	return Value{Kind: KindOpaque, Opaque: OpaqueOf(raw, FormatOpaque, false)}, nil
}

// springNumber reads a Long or Integer in any of the three encodings.
func springNumber(raw []byte) (int64, bool) { return springNumberTyped(raw, true) }

func springNumberTyped(raw []byte, allowTyped bool) (int64, bool) {
	if bytes.HasPrefix(raw, javaMagic) {
		return javaBoxedNumber(raw)
	}
	s := strings.TrimSpace(string(raw))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if allowTyped && len(s) > 0 && s[0] == '[' {
		// Jackson with default typing: ["java.lang.Long", 1700000000000]
		var typed []json.RawMessage
		if json.Unmarshal([]byte(s), &typed) == nil && len(typed) == 2 {
			return springNumberTyped(typed[1], false)
		}
		return 0, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= -1<<62 && f <= 1<<62 && f == float64(int64(f)) {
		return int64(f), true
	}
	return 0, false
}

// javaBoxedNumber reads a JDK-serialized java.lang.Long or java.lang.Integer
// (or Short, Byte) with the data-only Java reader, under limits that fit a
// boxed number and nothing much bigger.
func javaBoxedNumber(raw []byte) (int64, bool) {
	v, err := decodeJavaValue(raw, newBudget(Limits{MaxDepth: 4, MaxNodes: 64}))
	if err != nil || v.Kind != KindInt {
		return 0, false
	}
	return v.Int, true
}

// hashFieldsDigest hashes a hash's fields independently of their order, which
// HGETALL does not guarantee.
func hashFieldsDigest(fields []HashField) uint64 {
	idx := make([]int, len(fields))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := strings.Compare(fields[a].Name, fields[b].Name); c != 0 {
			return c
		}
		return bytes.Compare(fields[a].Value, fields[b].Value)
	})
	d := xxhash.New()
	var lenBuf [8]byte
	for _, i := range idx {
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(fields[i].Name)))
		d.Write(lenBuf[:])
		d.WriteString(fields[i].Name)
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(fields[i].Value)))
		d.Write(lenBuf[:])
		d.Write(fields[i].Value)
	}
	return d.Sum64()
}
