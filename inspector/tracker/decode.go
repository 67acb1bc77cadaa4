// Payload decoding: a read turned into the cached, comparable form of a payload.

package tracker

import (
	"github.com/cespare/xxhash/v2"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// decodePayload turns a read into the cache entry; undecodable bytes become opaque. fw
// is the framework the payload was resolved to (Matcher.Resolve).
func decodePayload(res backend.ReadResult, fw *framework.Framework, markers []string) *cachedPayload {
	var (
		p   *codec.Payload
		err error
	)
	if fw.Type == framework.KeyHash {
		p, err = codec.DecodeSpringHash(res.Hash, codec.Limits{})
	} else {
		p, err = codec.Decode(fw.Format, res.Data, codec.Limits{})
		if err != nil && fw.Format != codec.FormatAuto {
			p, err = codec.Decode(codec.FormatAuto, res.Data, codec.Limits{})
		}
	}
	if err != nil || p == nil {
		p = opaquePayload(res.Data, res.Truncated)
	}
	c := newCached(res.Key, p, fw, markers)
	return c
}

// opaquePayload wraps bytes no decoder accepted, so they can still be shown (type, size,
// preview) and compared by digest.
func opaquePayload(data []byte, truncated bool) *codec.Payload {
	return &codec.Payload{Format: codec.FormatOpaque, Opaque: codec.OpaqueOf(data, codec.FormatOpaque, truncated),
		Digest: xxhash.Sum64(data), Size: len(data)}
}
