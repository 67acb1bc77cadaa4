package codec

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// decodeLaravel decodes a Laravel session as its cache-backed drivers (redis,
// memcached, ...) store it: the session handler serializes the attributes and
// the cache store serializes that string again, giving `s:N:"a:3:{...}";`.
// The inner layer may also be JSON (session serialization 'json') or the
// encrypter's envelope ('encrypt' => true), which is shown as an Opaque of
// type laravel_encrypted. A payload without the outer string layer (the
// database and file drivers store the inner layer as is) is accepted too.
func decodeLaravel(data []byte, b *budget) (*Payload, error) {
	inner := string(data)
	if strings.HasPrefix(inner, "s:") || strings.HasPrefix(inner, "S:") {
		v, err := decodePHPValue(inner, b)
		if err != nil {
			return nil, fmt.Errorf("laravel session: outer layer: %w", err)
		}
		if v.Kind != KindString {
			return nil, fmt.Errorf("laravel session: outer layer is not a string: %w", ErrSyntax)
		}
		inner = v.Str
	}
	switch {
	case isLaravelEnvelope(inner):
		return &Payload{Format: FormatLaravel, Opaque: OpaqueOf(data, FormatLaravelEncrypted, false)}, nil
	case strings.HasPrefix(inner, "a:"):
		v, err := decodePHPValue(inner, b)
		if err != nil {
			return nil, fmt.Errorf("laravel session: attributes: %w", err)
		}
		if v.Kind != KindMap {
			return nil, fmt.Errorf("laravel session: attributes are not an array: %w", ErrSyntax)
		}
		return &Payload{Format: FormatLaravel, Fields: v.Entries}, nil
	case firstNonSpace([]byte(inner)) == '{':
		v, err := decodeJSONValue([]byte(inner), b)
		if err != nil {
			return nil, fmt.Errorf("laravel session: JSON attributes: %w", err)
		}
		return &Payload{Format: FormatLaravel, Fields: jsonFields(v)}, nil
	}
	return nil, fmt.Errorf("laravel session: inner layer is neither a serialized array, JSON nor an encrypted envelope: %w", ErrSyntax)
}

// laravelEnvelopePrefix is base64 of `{"iv":`, how every envelope that
// Illuminate\Encryption\Encrypter writes begins.
const laravelEnvelopePrefix = "eyJpdiI6"

// maxEnvelope bounds the base64 decoded while checking for an envelope.
// Sessions larger than this are still recognised by their prefix.
const maxEnvelope = 1 << 20

// isLaravelEnvelope reports Laravel's encrypted envelope: base64 of a JSON
// object with iv, value and mac (and tag for AEAD ciphers).
func isLaravelEnvelope(s string) bool {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, laravelEnvelopePrefix) {
		return false
	}
	if len(s) > maxEnvelope {
		return true
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	var env struct {
		IV    *string `json:"iv"`
		Value *string `json:"value"`
		MAC   *string `json:"mac"`
	}
	if json.Unmarshal(raw, &env) != nil {
		return false
	}
	return env.IV != nil && env.Value != nil && env.MAC != nil
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}
