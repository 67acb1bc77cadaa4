package codec

import (
	"encoding/hex"

	"github.com/cespare/xxhash/v2"
)

// OpaqueOf describes data that sessionscope shows without interpreting it:
// its type label, size and a `hexdump -C` style preview of at most
// PreviewBytes leading bytes. The preview is plain text holding any byte as a
// '.', so it is safe in a terminal; HTML views still escape it like any text.
// truncated records that data was cut by the caller's read size cap. It is
// safe to call on any input, including bytes a decoder rejected.
func OpaqueOf(data []byte, typ Format, truncated bool) *Opaque {
	preview := data
	if len(preview) > PreviewBytes {
		preview = preview[:PreviewBytes]
	}
	return &Opaque{Type: typ, Size: len(data), Preview: hex.Dump(preview), Truncated: truncated, Digest: xxhash.Sum64(data)}
}

// opaqueOfString is OpaqueOf for a sub-string of a decoder's input; only the
// previewed bytes are copied.
func opaqueOfString(s string, typ Format) *Opaque {
	preview := s
	if len(preview) > PreviewBytes {
		preview = preview[:PreviewBytes]
	}
	return &Opaque{Type: typ, Size: len(s), Preview: hex.Dump([]byte(preview)), Digest: xxhash.Sum64String(s)}
}

// opaquePayload is the Payload of a format sessionscope never deserializes
// (pickle, Java serialization, gob) or does not recognise.
func opaquePayload(typ Format, data []byte) *Payload {
	return &Payload{Format: typ, Opaque: OpaqueOf(data, typ, false)}
}
