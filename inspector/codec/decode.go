package codec

import (
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// decoderFunc is the shape of every byte-slice decoder.
type decoderFunc func(data []byte, b *budget) (*Payload, error)

// Decode decodes a session payload written in format. FormatAuto (or "")
// sniffs the format first, as Sniff does. The zero Limits means
// DefaultLimits; a zero field takes its default.
//
// An explicitly named format that does not decode returns a nil Payload and
// an error wrapping ErrSyntax, ErrTruncated, ErrTooDeep or ErrTooLarge; show
// such bytes with OpaqueOf(data, FormatOpaque, truncated), which is safe for
// any input. FormatAuto returns an error only when the format was recognised
// but exceeds lim (ErrTooDeep, ErrTooLarge); bytes it cannot decode come back
// as an opaque Payload. Ruby Marshal, pickle, gob and Java serialization are
// parsed as data only (see ruby_marshal.go, pickle.go, gob.go and
// javaser.go): no class is looked up or instantiated, no module imported, no
// type needs registering and no loader hook, callable, GobDecode or
// readObject method runs.
//
// Decode never panics, reads data only, and keeps no reference to data:
// decoded strings share one copy of it.
//
// Fields by format (keys in payload order):
//   - php, php_binary, php_serialize, igbinary: the session variables
//     ($_SESSION's keys). PHP arrays are KindMap with integer keys as decimal
//     text; objects are KindObject with Class and properties (visibility
//     markers stripped); C: objects carry an Opaque; enum cases have Class
//     and Str; r:/R: back-references are KindRef.
//   - laravel: the session attributes (_token, _previous, _flash, login_web_*,
//     ...) from the inner layer; encrypted sessions have no Fields, only an
//     Opaque of type laravel_encrypted.
//   - symfony: the attribute bag's entries, then _symfony_flashes when it
//     holds a flash, then other variables; _sf2_meta is in Meta.Symfony.
//   - express: every top-level key, "cookie" included; Meta.Express.
//   - json, msgpack: a top-level object's (map's) keys; any other top-level
//     value is one field named "".
//   - ruby_marshal: a top-level Hash's keys (String keys as is, Symbol keys
//     by name); any other top-level value is one field named "". Objects
//     ('o', Struct) are KindObject with Class and fields; _dump data is
//     KindObject with an Opaque (Time is decoded to an RFC 3339 string);
//     object links ('@') are KindRef.
//   - pickle: a top-level dict's keys (str and bytes keys as is, int keys as
//     decimal text); any other top-level value is one field named "". Lists,
//     tuples and sets are KindList; what would be imported or called (a
//     datetime, an OrderedDict, an application's class) is KindObject whose
//     Class is "module.name", with its arguments ("args") and state as
//     entries; containers met again through the memo are KindRef.
//   - gob: a top-level map's keys (gorilla/sessions' session.Values; string
//     keys as is, int keys as decimal text); any other top-level value is one
//     field named "". Structs are KindObject with every field of their type
//     and, when held by an interface, the name the type was registered under
//     as Class; time.Time is an RFC 3339 string.
//   - java_serialized: a top-level Map's keys (String keys as is, others as
//     they print); another object's fields; any other top-level value is one
//     field named "". Objects are KindObject with Class and their fields,
//     superclass fields first; well-known JDK collections, boxed numbers and
//     Date are plain values; custom writeObject data is a java_serialized
//     Opaque leaf; objects met again are KindRef (see javaser.go).
//   - opaque: no Fields; Opaque.
//   - spring_hash (DecodeSpringHash): one field per sessionAttr:NAME, named
//     NAME; the bookkeeping fields fill Meta.Spring.
func Decode(format Format, data []byte, lim Limits) (*Payload, error) {
	b := newBudget(lim)
	var p *Payload
	var err error
	switch format {
	case FormatAuto, "":
		_, p, err = detect(data, *b)
	case FormatPHP:
		p, err = decodePHPSession(data, b)
	case FormatPHPSerialize:
		p, err = decodePHPSerialize(data, b)
	case FormatPHPBinary:
		p, err = decodePHPBinary(data, b)
	case FormatIgbinary:
		p, err = decodeIgbinary(data, b)
	case FormatLaravel:
		p, err = decodeLaravel(data, b)
	case FormatSymfony:
		p, err = decodeSymfony(data, b)
	case FormatJSON:
		p, err = decodeJSON(data, b)
	case FormatExpress:
		p, err = decodeExpress(data, b)
	case FormatMsgpack:
		p, err = decodeMsgpack(data, b)
	case FormatRubyMarshal:
		p, err = decodeRubyMarshal(data, b)
	case FormatPickle:
		p, err = decodePickle(data, b)
	case FormatDjangoSigned:
		p, err = decodeDjangoSigned(data, b)
	case FormatGob:
		p, err = decodeGob(data, b)
	case FormatJavaSerial:
		p, err = decodeJavaSerial(data, b)
	case FormatOpaque:
		p = opaquePayload(format, data)
	case FormatSpringHash:
		return nil, fmt.Errorf("codec: %s payloads are Redis hashes, decode them with DecodeSpringHash: %w", format, ErrUnsupported)
	default:
		return nil, fmt.Errorf("codec: format %q: %w", format, ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	p.Size = len(data)
	p.Digest = xxhash.Sum64(data)
	return p, nil
}
