// Package codec decodes session payloads read from a watched store. Every byte it sees
// is untrusted: decoders bound nesting depth, check every declared length against the
// input that remains, never size an allocation from a declared length, return errors
// instead of panicking, and never execute anything: Ruby Marshal, pickle, gob and
// Java serialization are parsed as data only (class names are labels; nothing is
// imported, instantiated or called).
package codec

import "time"

// Format names a payload encoding.
type Format string

// Payload formats. FormatAuto asks Decode to sniff the bytes.
const (
	FormatAuto         Format = "auto"
	FormatPHP          Format = "php"           // session.serialize_handler=php: name|serialized...
	FormatPHPSerialize Format = "php_serialize" // one serialize()d array
	FormatPHPBinary    Format = "php_binary"    // length byte, name, serialized value
	FormatIgbinary     Format = "igbinary"      // header 00 00 00 02
	FormatLaravel      Format = "laravel"       // serialize(serialize($attributes)) or JSON, maybe encrypted
	FormatJSON         Format = "json"
	FormatExpress      Format = "express" // express-session JSON with a "cookie" object
	FormatMsgpack      Format = "msgpack"
	FormatSpringHash   Format = "spring_hash"  // Spring Session hash fields
	FormatPickle       Format = "pickle"       // protocols 0-5, parsed as data only
	FormatRubyMarshal  Format = "ruby_marshal" // Marshal 4.8 (04 08), parsed as data only
	FormatJavaSerial   Format = "java_serialized"
	FormatGob          Format = "gob"
	FormatOpaque       Format = "opaque" // recognised as nothing decodable

	// FormatSymfony is a PHP session (any of the four PHP handlers) written by
	// Symfony's NativeSessionStorage: Fields are the attributes bag flattened to
	// the top level, and _sf2_meta fills Meta.Symfony.
	FormatSymfony Format = "symfony"

	// FormatLaravelEncrypted labels an Opaque holding Laravel's encrypted
	// envelope (base64 of JSON with iv, value, mac and tag). It is only ever an
	// Opaque.Type: the key to open the envelope is the application's.
	FormatLaravelEncrypted Format = "laravel_encrypted"

	// FormatPHPCustom labels the Opaque of a PHP object with custom
	// serialization (C: in serialize(), object_ser in igbinary): the bytes are
	// whatever the class's serialize() method wrote, so they stay uninterpreted.
	FormatPHPCustom Format = "php_custom"

	// FormatMsgpackExt labels the Opaque of a msgpack extension value whose
	// type sessionscope does not know.
	FormatMsgpackExt Format = "msgpack_ext"
)

// Kind is the type of a decoded Value.
type Kind uint8

// Value kinds.
const (
	KindNull Kind = iota
	KindBool
	KindInt
	KindFloat
	KindString
	KindList   // Items (JSON and msgpack arrays; PHP arrays are maps with integer keys)
	KindMap    // Entries, in input order
	KindObject // Entries plus Class (PHP O:/C:/E:, igbinary, Ruby Marshal and pickle objects, parsed as data only)
	KindOpaque // Opaque
	KindRef    // a PHP back-reference (r:/R:, igbinary ref/objref), Ruby Marshal object link (@) or pickle container met again (memo index, -1 for none); Int holds its index, Bool is true for a PHP & reference (R:)
)

// Value is one node of a decoded payload tree.
type Value struct {
	Kind    Kind
	Bool    bool
	Int     int64
	Float   float64
	Str     string // KindString; binary-safe. For a PHP enum case (KindObject), the case name; for a Ruby Class or Module, its name
	Class   string // KindObject: class name as written in the payload
	Items   []Value
	Entries []Entry
	Opaque  *Opaque // KindOpaque; also the raw bytes of a KindObject with custom serialization (PHP C:)
}

// Entry is one key of a map, object or top-level session.
type Entry struct {
	Key   string
	Value Value
}

// Opaque describes bytes sessionscope shows but does not interpret.
type Opaque struct {
	Type      Format // pickle (huge ints), ruby_marshal (_dump data, huge bignums), java_serialized, gob, opaque, ...
	Size      int    // full size in bytes
	Preview   string // hex/ASCII dump of at most PreviewBytes leading bytes
	Truncated bool   // the payload was cut by the read size cap
	Digest    uint64 // xxhash64 of all Size bytes, so a change past the preview still changes fingerprints
}

// PreviewBytes is how many leading bytes an Opaque preview shows.
const PreviewBytes = 256

// Payload is a decoded session.
type Payload struct {
	Format Format
	Fields []Entry // top-level session fields, in payload order
	Opaque *Opaque // non-nil when the whole payload is opaque
	Meta   Meta    // framework metadata found in the payload
	Size   int     // bytes decoded
	Digest uint64  // xxhash64 of the raw input bytes; always set, so unchanged payloads are cheap to spot
}

// Meta holds framework bookkeeping that sessionscope interprets.
type Meta struct {
	Symfony *SymfonyMeta
	Express *ExpressCookie
	Spring  *SpringMeta
}

// SymfonyMeta is Symfony's _sf2_meta: created, updated, lifetime.
type SymfonyMeta struct {
	Created  time.Time
	Updated  time.Time
	Lifetime int64 // seconds; 0 means until the browser closes
}

// ExpressCookie is the cookie express-session stores beside the session data.
type ExpressCookie struct {
	OriginalMaxAge *int64 // milliseconds; nil when the stored value is null
	Expires        *time.Time
	Secure         *bool
	HTTPOnly       *bool
	Domain         string
	Path           string
	SameSite       string
}

// SpringMeta is Spring Session's hash bookkeeping.
type SpringMeta struct {
	CreationTime        time.Time
	LastAccessedTime    time.Time
	MaxInactiveInterval int64 // seconds
}

// HashField is one field of a hash-typed session (Spring).
type HashField struct {
	Name  string
	Value []byte
}

// Limits bound the work a decoder does on untrusted input.
type Limits struct {
	MaxDepth int // nesting depth; default 64
	MaxNodes int // total values; default 200,000
}

// DefaultLimits are used when a caller passes the zero Limits.
var DefaultLimits = Limits{MaxDepth: 64, MaxNodes: 200_000}
