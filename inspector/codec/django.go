package codec

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// FormatDjangoSigned is the text Django's SessionBase.encode writes, which
// django-redis-sessions stores (and Django's db, file and cached_db backends):
//
//   - Django 3.1 and later: django.core.signing's
//     "[.]<base64url>:<timestamp>:<signature>", the base64url (unpadded) of the
//     serialized session, zlib-compressed and marked with a leading "." when
//     that is shorter; the timestamp is base62, the signature an HMAC in
//     base64url.
//   - before 3.1, and 3.1 to 3.2 with DEFAULT_HASHING_ALGORITHM = "sha1": the
//     padded standard base64 of "<40 hex digits of HMAC-SHA1>:<serialized>".
//
// The serializer is JSON (Django's default) or pickle (PickleSerializer); a
// pickle is parsed as data only, as FormatPickle is. The signature is not
// checked: that needs the application's SECRET_KEY, and the data is shown,
// never trusted. Fields are the session dict's keys.
const FormatDjangoSigned Format = "django_signed"

// Bounds of the Django layers. Sessions are small and payload reads are capped
// (64 KiB by default), but zlib turns a small input into a large output, so
// what inflating may produce is bounded on its own.
const (
	djangoMaxInflated   = 1 << 20
	djangoMaxTimestamp  = 13  // base62 digits; a 64-bit Unix time needs 11
	djangoMaxSignature  = 128 // base64url characters; HMAC-SHA512 needs 86
	djangoLegacyHashLen = 40  // hex digits of HMAC-SHA1
	// djangoLegacyMinLen is the base64 length of the shortest legacy payload,
	// the hash, its colon and "{}".
	djangoLegacyMinLen = (djangoLegacyHashLen + 3 + 2) / 3 * 4
)

// isDjangoSigned reports whether data has the shape of SessionBase.encode's
// output, signed or legacy, for detection. The shape alone is cheap to check
// and narrow: base64 text with exactly two colons, or padded base64 without
// any whose start decodes to hex digits and a colon.
func isDjangoSigned(data []byte) bool {
	if _, _, ok := splitDjangoSigned(data); ok {
		return true
	}
	return isDjangoLegacy(data)
}

// splitDjangoSigned splits "[.]value:timestamp:signature" and returns the
// value without its compression mark.
func splitDjangoSigned(data []byte) (value []byte, compressed, ok bool) {
	first := bytes.IndexByte(data, ':')
	if first < 0 {
		return nil, false, false
	}
	rest := data[first+1:]
	second := bytes.IndexByte(rest, ':')
	if second < 0 {
		return nil, false, false
	}
	value, ts, sig := data[:first], rest[:second], rest[second+1:]
	if len(value) > 0 && value[0] == '.' {
		value, compressed = value[1:], true
	}
	if len(value) == 0 || !allBytes(value, isBase64URLByte) ||
		len(ts) == 0 || len(ts) > djangoMaxTimestamp || !allBytes(ts, isBase62Byte) ||
		len(sig) == 0 || len(sig) > djangoMaxSignature || !allBytes(sig, isBase64URLByte) {
		return nil, false, false
	}
	return value, compressed, true
}

// isDjangoLegacy checks the legacy shape: padded standard base64 whose first
// bytes decode to 40 hex digits and a colon.
func isDjangoLegacy(data []byte) bool {
	if len(data) < djangoLegacyMinLen || len(data)%4 != 0 {
		return false
	}
	for i, c := range data {
		if c == '=' {
			if i < len(data)-2 || (i == len(data)-2 && data[i+1] != '=') {
				return false
			}
			continue
		}
		if !isBase64StdByte(c) {
			return false
		}
	}
	head := make([]byte, base64.StdEncoding.DecodedLen(djangoLegacyMinLen))
	n, err := base64.StdEncoding.Decode(head, data[:djangoLegacyMinLen])
	if err != nil || n <= djangoLegacyHashLen {
		return false
	}
	return allBytes(head[:djangoLegacyHashLen], isHexByte) && head[djangoLegacyHashLen] == ':'
}

// decodeDjangoSigned decodes SessionBase.encode's text: the session dict's
// entries become Fields (any other value, a single field named "").
func decodeDjangoSigned(data []byte, b *budget) (*Payload, error) {
	inner, err := djangoSerialized(data)
	if err != nil {
		return nil, fmt.Errorf("django session: %w", err)
	}
	var fields []Entry
	switch {
	case isPickleHeader(inner) || isTextPickle(inner):
		p, err := decodePickle(inner, b)
		if err != nil {
			return nil, fmt.Errorf("django session: %w", err)
		}
		fields = p.Fields
	default:
		v, err := decodeJSONValue(inner, b)
		if err != nil {
			return nil, fmt.Errorf("django session: JSON: %w", err)
		}
		fields = jsonFields(v)
	}
	return &Payload{Format: FormatDjangoSigned, Fields: fields}, nil
}

// djangoSerialized undoes the signing layer: the serializer's output, its
// signature or hash left unchecked.
func djangoSerialized(data []byte) ([]byte, error) {
	if value, compressed, ok := splitDjangoSigned(data); ok {
		raw, err := base64.RawURLEncoding.DecodeString(string(value))
		if err != nil {
			return nil, errAt(0, ErrSyntax, "signed value is not base64url")
		}
		if !compressed {
			return raw, nil
		}
		return djangoInflate(raw)
	}
	if !isDjangoLegacy(data) {
		return nil, errAt(0, ErrSyntax, "neither value:timestamp:signature nor base64 of hash:data")
	}
	raw, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return nil, errAt(0, ErrSyntax, "legacy session is not base64")
	}
	return raw[djangoLegacyHashLen+1:], nil
}

// djangoInflate undoes the zlib compression of a signed value, refusing output
// beyond djangoMaxInflated.
func djangoInflate(raw []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, djangoZlibError(err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, djangoMaxInflated+1))
	if err != nil {
		return nil, djangoZlibError(err)
	}
	if len(out) > djangoMaxInflated {
		return nil, fmt.Errorf("compressed value inflates past %d bytes: %w", djangoMaxInflated, ErrTooLarge)
	}
	if err := zr.Close(); err != nil {
		return nil, djangoZlibError(err)
	}
	return out, nil
}

func djangoZlibError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errAt(0, ErrTruncated, "compressed value ends early")
	}
	return errAt(0, ErrSyntax, "compressed value: "+err.Error())
}

func allBytes(b []byte, ok func(byte) bool) bool {
	for _, c := range b {
		if !ok(c) {
			return false
		}
	}
	return true
}

func isBase62Byte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isBase64URLByte(c byte) bool { return isBase62Byte(c) || c == '-' || c == '_' }

func isBase64StdByte(c byte) bool { return isBase62Byte(c) || c == '+' || c == '/' }

func isHexByte(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
