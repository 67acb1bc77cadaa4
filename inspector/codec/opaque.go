package codec

import (
	"encoding/hex"
	"fmt"
	"strings"

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

// opaquePayload is the Payload of bytes no decoder accepted: unrecognised, or
// recognised by their header (pickle, Java serialization, gob) but malformed.
func opaquePayload(typ Format, data []byte) *Payload {
	return &Payload{Format: typ, Opaque: OpaqueOf(data, typ, false)}
}

// Outline describes the previewed bytes without any byte value: the size, the format
// guess and, row by row as in the preview, each byte's class (t printable text,
// b other byte, 0 zero byte). It is what a preview shows unless values are revealed,
// since a password or token in undecoded bytes is as readable in a hex dump as in a
// decoded field. It reads the preview's hex columns and ignores anything else.
func (o *Opaque) Outline() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d bytes, format guess %s; byte values hidden (--reveal-values shows them)\n", o.Size, o.Type)
	var rows []string
	text, runs, longest, run, other, zero := 0, 0, 0, 0, 0, 0
	for _, line := range strings.Split(o.Preview, "\n") {
		offset, rest, ok := strings.Cut(line, "  ")
		if !ok || len(offset) != 8 {
			continue
		}
		hexPart, _, _ := strings.Cut(rest, " |")
		var row strings.Builder
		for _, h := range strings.Fields(hexPart) {
			b, err := hex.DecodeString(h)
			if err != nil || len(b) != 1 {
				continue
			}
			switch c := b[0]; {
			case c >= 0x20 && c < 0x7f:
				row.WriteByte('t')
				text++
				if run++; run == 1 {
					runs++
				}
				longest = max(longest, run)
				continue
			case c == 0:
				row.WriteByte('0')
				zero++
			default:
				row.WriteByte('b')
				other++
			}
			run = 0
		}
		rows = append(rows, offset+"  "+row.String())
	}
	if len(rows) == 0 {
		return sb.String()
	}
	fmt.Fprintf(&sb, "first %d bytes: %d text in %d runs (longest %d), %d other, %d zero\n",
		text+other+zero, text, runs, longest, other, zero)
	for _, r := range rows {
		sb.WriteString(r)
		sb.WriteByte('\n')
	}
	return sb.String()
}
