package codec

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Fingerprint returns a stable 64-bit hash (xxhash64) of the value: equal
// values give equal fingerprints across runs and processes, and the walk is
// type-tagged and length-prefixed so that, say, the string "1" and the
// integer 1, or ["ab"] and ["a","b"], differ. The tracker compares
// fingerprints to report which fields changed without keeping values.
func (v Value) Fingerprint() uint64 {
	var d xxhash.Digest
	d.Reset()
	var h hasher
	h.d = &d
	h.value(&v)
	return d.Sum64()
}

type hasher struct {
	d   *xxhash.Digest
	buf [9]byte
}

func (h *hasher) tag(k byte)   { h.buf[0] = k; h.d.Write(h.buf[:1]) }
func (h *hasher) u64(n uint64) { binary.LittleEndian.PutUint64(h.buf[:8], n); h.d.Write(h.buf[:8]) }
func (h *hasher) str(s string) { h.u64(uint64(len(s))); h.d.WriteString(s) }

func (h *hasher) value(v *Value) {
	h.tag(byte(v.Kind))
	switch v.Kind {
	case KindBool:
		if v.Bool {
			h.tag(1)
		} else {
			h.tag(0)
		}
	case KindInt:
		h.u64(uint64(v.Int))
	case KindFloat:
		bits := math.Float64bits(v.Float)
		if v.Float != v.Float {
			bits = 0x7ff8000000000001 // every NaN is the same value to a reader
		}
		h.u64(bits)
	case KindString:
		h.str(v.Str)
	case KindList:
		h.u64(uint64(len(v.Items)))
		for i := range v.Items {
			h.value(&v.Items[i])
		}
	case KindMap, KindObject:
		h.str(v.Class)
		h.str(v.Str)
		h.u64(uint64(len(v.Entries)))
		for i := range v.Entries {
			h.str(v.Entries[i].Key)
			h.value(&v.Entries[i].Value)
		}
		h.opaque(v.Opaque)
	case KindOpaque:
		h.opaque(v.Opaque)
	case KindRef:
		h.u64(uint64(v.Int))
		if v.Bool {
			h.tag(1)
		} else {
			h.tag(0)
		}
	}
}

func (h *hasher) opaque(o *Opaque) {
	if o == nil {
		h.tag(0)
		return
	}
	h.tag(1)
	h.str(string(o.Type))
	h.u64(uint64(o.Size))
	h.u64(o.Digest)
}

// FieldFingerprints maps each top-level field name to its value's
// Fingerprint. An opaque payload has one entry, "", holding Digest. When a
// name occurs twice (possible in the php handler's format) the last one wins,
// as it does in PHP.
func (p *Payload) FieldFingerprints() map[string]uint64 {
	if p == nil {
		return map[string]uint64{}
	}
	if p.Opaque != nil {
		return map[string]uint64{"": p.Digest}
	}
	m := make(map[string]uint64, len(p.Fields))
	for i := range p.Fields {
		m[p.Fields[i].Key] = p.Fields[i].Value.Fingerprint()
	}
	return m
}

// Lookup finds a nested value by keys, starting at the top-level fields:
// Lookup("passport", "user"). Map and object entries match by key, list
// items by decimal index. It reports false when any step is missing.
func (p *Payload) Lookup(path ...string) (Value, bool) {
	if p == nil || len(path) == 0 {
		return Value{}, false
	}
	v, ok := findEntry(p.Fields, path[0])
	if !ok {
		return Value{}, false
	}
	return v.Lookup(path[1:]...)
}

// Lookup finds a value nested inside v by keys (maps and objects) or decimal
// indexes (lists); with no keys it returns v itself.
func (v Value) Lookup(path ...string) (Value, bool) {
	for _, k := range path {
		switch v.Kind {
		case KindMap, KindObject:
			next, ok := findEntry(v.Entries, k)
			if !ok {
				return Value{}, false
			}
			v = next
		case KindList:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(v.Items) {
				return Value{}, false
			}
			v = v.Items[i]
		default:
			return Value{}, false
		}
	}
	return v, true
}

// maxRender bounds String's output: it is for a terminal line, not a dump.
const maxRender = 160

// maxRenderString bounds how much of one string String shows.
const maxRenderString = 48

// String renders the value on one short line for a terminal: JSON-like,
// strings quoted with Go escapes (so control bytes and escape sequences in a
// payload are never sent to the terminal raw), objects as Class{...}, enum
// cases as Class::Case, opaque bytes as <type N bytes>, references as &N.
// Output past 160 bytes is cut and ends in "…".
func (v Value) String() string {
	r := renderer{}
	r.value(&v, 0)
	if r.cut {
		return r.sb.String() + "…"
	}
	return r.sb.String()
}

type renderer struct {
	sb  strings.Builder
	cut bool
}

func (r *renderer) full() bool {
	if r.sb.Len() >= maxRender {
		r.cut = true
	}
	return r.cut
}

func (r *renderer) write(s string) {
	if r.full() {
		return
	}
	if room := maxRender - r.sb.Len(); len(s) > room {
		s = truncUTF8(s, room)
		r.cut = true
	}
	r.sb.WriteString(s)
}

// quote renders s as a Go string literal, showing at most maxRenderString
// bytes of it.
func (r *renderer) quote(s string) {
	if len(s) > maxRenderString {
		r.write(strconv.Quote(truncUTF8(s, maxRenderString)) + "…")
		return
	}
	r.write(strconv.Quote(s))
}

// label renders a class name or key as is when it is plain printable text,
// quoted otherwise.
func (r *renderer) label(s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 || c == '"' || c == ' ' {
			r.quote(s)
			return
		}
	}
	if len(s) > maxRenderString {
		r.write(s[:maxRenderString] + "…")
		return
	}
	r.write(s)
}

func (r *renderer) value(v *Value, depth int) {
	if r.full() {
		return
	}
	switch v.Kind {
	case KindNull:
		r.write("null")
	case KindBool:
		r.write(strconv.FormatBool(v.Bool))
	case KindInt:
		r.write(strconv.FormatInt(v.Int, 10))
	case KindFloat:
		r.write(strconv.FormatFloat(v.Float, 'g', -1, 64))
	case KindString:
		r.quote(v.Str)
	case KindList:
		r.write("[")
		for i := range v.Items {
			if i > 0 {
				r.write(", ")
			}
			if r.full() {
				return
			}
			r.value(&v.Items[i], depth+1)
		}
		r.write("]")
	case KindMap:
		r.entries(v.Entries, depth)
	case KindObject:
		r.label(v.Class)
		switch {
		case v.Opaque != nil:
			r.write("(")
			r.opaque(v.Opaque)
			r.write(")")
		case v.Entries == nil && v.Str != "":
			r.write("::")
			r.label(v.Str)
		default:
			r.entries(v.Entries, depth)
		}
	case KindOpaque:
		r.opaque(v.Opaque)
	case KindRef:
		r.write("&" + strconv.FormatInt(v.Int, 10))
	default:
		r.write("?")
	}
}

func (r *renderer) entries(es []Entry, depth int) {
	r.write("{")
	for i := range es {
		if i > 0 {
			r.write(", ")
		}
		if r.full() {
			return
		}
		r.quote(es[i].Key)
		r.write(": ")
		r.value(&es[i].Value, depth+1)
	}
	r.write("}")
}

func (r *renderer) opaque(o *Opaque) {
	if o == nil {
		r.write("<opaque>")
		return
	}
	r.write("<" + string(o.Type) + " " + strconv.Itoa(o.Size) + " bytes>")
}

// truncUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// parseJSTime reads JavaScript's Date.prototype.toJSON output
// ("2026-11-23T01:00:00.000Z") and other RFC 3339 times.
func parseJSTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// entryKey turns a decoded map key into an Entry key: a string as is (a Ruby Symbol
// arrives as its name, a Marshal link to a String read earlier as that String), an
// integer in decimal, anything else as it prints. msgpack, pickle and Marshal share it.
func entryKey(k Value) string {
	switch k.Kind {
	case KindString:
		return k.Str
	case KindInt:
		return strconv.FormatInt(k.Int, 10)
	}
	return k.String()
}
