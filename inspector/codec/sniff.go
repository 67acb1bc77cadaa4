package codec

import (
	"bytes"
	"unicode/utf8"
)

// Sniff names the format of a session payload from its bytes, or
// FormatOpaque when nothing fits. Binary formats are known by their magic
// bytes (igbinary 00 00 00 01/02, Java AC ED 00 05, Ruby Marshal 04 08, pickle
// 80 02..05), and igbinary, Java, Ruby Marshal and pickle are confirmed by
// decoding them (bytes with their header that do not decode are FormatOpaque,
// Java's with an Opaque still typed java_serialized); a
// protocol 0 or 1 pickle, which has no header, is pickle only when it opens
// like one and decodes in full; text formats, msgpack and the php handlers,
// whose first bytes prove little, are confirmed by decoding them with
// DefaultLimits; gob is tried last, by its message framing, never claims
// printable text, and is confirmed by decoding it. A PHP session holding Symfony's bags is FormatSymfony, and
// an express-session JSON object (one with a "cookie" object) is
// FormatExpress.
func Sniff(data []byte) Format {
	f, _, _ := detect(data, *newBudget(DefaultLimits))
	return f
}

// detect finds the format and returns the payload decoded while confirming
// it, so Decode(FormatAuto) parses once. Each candidate decodes with a fresh
// copy of lim. A candidate that fails for a limit is reported with its error,
// since the bytes were recognised; any other failure moves on.
func detect(data []byte, lim budget) (Format, *Payload, error) {
	try := func(dec decoderFunc) (*Payload, error, bool) {
		b := lim
		p, err := dec(data, &b)
		if err == nil {
			return p, nil, true
		}
		if isLimitError(err) {
			return nil, err, true
		}
		return nil, nil, false
	}
	found := func(f Format, p *Payload, err error) (Format, *Payload, error) {
		if err == nil && p != nil {
			if (f == FormatPHP || f == FormatPHPSerialize || f == FormatPHPBinary || f == FormatIgbinary) && isSymfonySession(p.Fields) {
				p = symfonyFromPHP(p)
			}
			f = p.Format
		}
		return f, p, err
	}

	if len(data) == 0 {
		return FormatOpaque, opaquePayload(FormatOpaque, data), nil
	}
	switch {
	case igbinaryHeader(data):
		if p, err, ok := try(decodeIgbinary); ok {
			return found(FormatIgbinary, p, err)
		}
		return FormatOpaque, opaquePayload(FormatOpaque, data), nil
	case bytes.HasPrefix(data, javaMagic):
		if p, err, ok := try(decodeJavaSerial); ok {
			return found(FormatJavaSerial, p, err)
		}
		// Not decodable, but still labelled as Java for the preview.
		return FormatOpaque, &Payload{Format: FormatOpaque, Opaque: OpaqueOf(data, FormatJavaSerial, false)}, nil
	case len(data) >= 2 && data[0] == 4 && data[1] == 8:
		if p, err, ok := try(decodeRubyMarshal); ok {
			return found(FormatRubyMarshal, p, err)
		}
		return FormatOpaque, opaquePayload(FormatOpaque, data), nil
	case isPickleHeader(data):
		if p, err, ok := try(decodePickle); ok {
			return found(FormatPickle, p, err)
		}
		return FormatOpaque, opaquePayload(FormatOpaque, data), nil
	}
	if isTextPickle(data) {
		if p, err, ok := try(decodePickle); ok {
			return found(FormatPickle, p, err)
		}
	}
	if isDjangoSigned(data) {
		if p, err, ok := try(decodeDjangoSigned); ok {
			return found(FormatDjangoSigned, p, err)
		}
	}
	if c := firstNonSpace(data); c == '{' || c == '[' {
		if p, err, ok := try(decodeJSONAuto); ok {
			return found(FormatJSON, p, err)
		}
	}
	if hasPHPPrefix(data, 's') || hasPHPPrefix(data, 'S') || bytes.HasPrefix(data, []byte(laravelEnvelopePrefix)) {
		if p, err, ok := try(decodeLaravel); ok {
			return found(FormatLaravel, p, err)
		}
	}
	if hasPHPPrefix(data, 'a') {
		if p, err, ok := try(decodePHPSerialize); ok {
			return found(FormatPHPSerialize, p, err)
		}
	}
	if bytes.IndexByte(data, '|') >= 0 {
		if p, err, ok := try(decodePHPSession); ok {
			return found(FormatPHP, p, err)
		}
	}
	// PHP 7+ never sets php_binary's undefined bit, and leaving it out keeps
	// msgpack's fixmap bytes (0x80-0x8f) for msgpack.
	if data[0] < 0x80 {
		if p, err, ok := try(decodePHPBinary); ok {
			return found(FormatPHPBinary, p, err)
		}
	}
	if c := data[0]; c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf {
		if p, err, ok := try(decodeMsgpack); ok {
			return found(FormatMsgpack, p, err)
		}
	}
	// PHP 5's php_binary marked undefined variables with the high bit of the
	// length byte; tried after msgpack, whose fixmaps share those bytes.
	if data[0] >= 0x80 {
		if p, err, ok := try(decodePHPBinary); ok {
			return found(FormatPHPBinary, p, err)
		}
	}
	if isGob(data) {
		if p, err, ok := try(decodeGob); ok {
			return found(FormatGob, p, err)
		}
		// Framed like gob but not a stream gob.go follows: opaque, with the
		// preview still labelled gob.
		return FormatOpaque, &Payload{Format: FormatOpaque, Opaque: OpaqueOf(data, FormatGob, false)}, nil
	}
	return FormatOpaque, opaquePayload(FormatOpaque, data), nil
}

// decodeJSONAuto decodes JSON for detection: express-session's shape is
// FormatExpress, anything else FormatJSON.
func decodeJSONAuto(data []byte, b *budget) (*Payload, error) {
	v, err := decodeJSONValue(data, b)
	if err != nil {
		return nil, err
	}
	if isExpressSession(v) {
		p := &Payload{Format: FormatExpress, Fields: v.Entries}
		c, _ := findEntry(v.Entries, "cookie")
		p.Meta.Express = expressCookie(c)
		return p, nil
	}
	return &Payload{Format: FormatJSON, Fields: jsonFields(v)}, nil
}

// hasPHPPrefix reports `t:` followed by a digit, how a serialize() value of
// type t with a length or count begins.
func hasPHPPrefix(data []byte, t byte) bool {
	return len(data) >= 3 && data[0] == t && data[1] == ':' && data[2] >= '0' && data[2] <= '9'
}

// isPickleHeader reports pickle protocol 2 to 5, which opens with PROTO
// (0x80) and its version.
func isPickleHeader(data []byte) bool {
	return len(data) >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5
}

// isTextPickle reports bytes that open as protocol 0 or 1 pickles a session
// (a dict, list, tuple or instance: "(dp", "(lp", "}q", "]q", ...) and end
// with STOP ('.'); detect still decodes them in full before saying pickle.
func isTextPickle(data []byte) bool {
	if len(data) < 3 || data[len(data)-1] != '.' {
		return false
	}
	for _, p := range [...]string{"(dp", "(lp", "(i", "}q", "}(", "}.", "]q", "](", "]."} {
		if bytes.HasPrefix(data, []byte(p)) {
			return true
		}
	}
	return false
}

// isGob reports bytes that tile exactly into gob messages (each an unsigned
// length and that many bytes) whose first message defines a type (a negative
// type id), as an encoding/gob stream does. It is the weakest signal here, so
// detect tries it last.
func isGob(data []byte) bool {
	if isPrintable(data) {
		return false
	}
	pos, msgs := 0, 0
	for pos < len(data) {
		n, w := gobUint(data[pos:])
		if w == 0 {
			return false
		}
		pos += w
		if n == 0 || n > uint64(len(data)-pos) {
			return false
		}
		if msgs == 0 {
			u, w := gobUint(data[pos : pos+int(n)])
			if w == 0 || u&1 == 0 || u == 1 { // gob ints keep the sign in bit 0; ids are nonzero
				return false
			}
		}
		pos += int(n)
		msgs++
	}
	return msgs > 0
}

// isPrintable reports valid UTF-8 with no control characters but tab,
// newline and carriage return: text that a gob stream, whose type
// definitions always hold small field numbers and lengths, never is.
func isPrintable(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// gobUint reads gob's unsigned integer: one byte below 0x80, else the
// negated byte count followed by that many big-endian bytes. w is 0 when the
// bytes are not one.
func gobUint(b []byte) (n uint64, w int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	count := 256 - int(b[0])
	if count > 8 || len(b) < 1+count {
		return 0, 0
	}
	for _, c := range b[1 : 1+count] {
		n = n<<8 | uint64(c)
	}
	return n, 1 + count
}
