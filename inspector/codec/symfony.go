package codec

import (
	"fmt"
	"strconv"
	"time"
)

// Symfony's session storage keys (NativeSessionStorage's bags).
const (
	symfonyAttributes = "_sf2_attributes"
	symfonyFlashes    = "_symfony_flashes"
	symfonyMeta       = "_sf2_meta"
)

// DecodeSymfony decodes a Symfony session; it is Decode(FormatSymfony, data,
// lim). Symfony stores what PHP's session handler writes, so the PHP format
// (php, php_serialize, php_binary or igbinary) is detected from the bytes.
// Fields are the entries of _sf2_attributes flattened to the top level (the
// application's attribute names), then _symfony_flashes when it holds any
// flash, then any other top-level variable the application set beside
// Symfony's bags. _sf2_meta is not a field: it changes on every request and
// would make every write look like a data change; it fills Meta.Symfony.
func DecodeSymfony(data []byte, lim Limits) (*Payload, error) {
	return Decode(FormatSymfony, data, lim)
}

func decodeSymfony(data []byte, b *budget) (*Payload, error) {
	base, err := decodePHPAny(data, b)
	if err != nil {
		return nil, fmt.Errorf("symfony session: %w", err)
	}
	return symfonyFromPHP(base), nil
}

// decodePHPAny decodes one of the four PHP session handlers' outputs,
// trying them in the order detect does: igbinary when its header is there,
// else php_serialize (`a:N:{`), the php handler (`name|`) and php_binary. The
// first that decodes wins; a limit error stops the search; otherwise the
// first candidate's error is returned.
func decodePHPAny(data []byte, b *budget) (*Payload, error) {
	if igbinaryHeader(data) {
		return decodeIgbinary(data, b)
	}
	var candidates []decoderFunc
	if hasPHPPrefix(data, 'a') {
		candidates = append(candidates, decodePHPSerialize)
	}
	candidates = append(candidates, decodePHPSession, decodePHPBinary)
	saved := *b
	var first error
	for _, dec := range candidates {
		*b = saved // a failed attempt's work does not count against the next
		p, err := dec(data, b)
		if err == nil || isLimitError(err) {
			return p, err
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// isSymfonySession reports whether a decoded PHP session carries Symfony's
// bags.
func isSymfonySession(fields []Entry) bool {
	for _, e := range fields {
		if e.Key == symfonyAttributes || e.Key == symfonyMeta {
			return true
		}
	}
	return false
}

// symfonyFromPHP reshapes a decoded PHP session into Symfony's view.
func symfonyFromPHP(base *Payload) *Payload {
	p := &Payload{Format: FormatSymfony}
	var flashes, others []Entry
	for _, e := range base.Fields {
		switch e.Key {
		case symfonyAttributes:
			if e.Value.Kind == KindMap {
				p.Fields = append(p.Fields, e.Value.Entries...)
			} else {
				others = append(others, e)
			}
		case symfonyFlashes:
			if !(e.Value.Kind == KindMap && len(e.Value.Entries) == 0) {
				flashes = append(flashes, e)
			}
		case symfonyMeta:
			p.Meta.Symfony = symfonyMetaOf(e.Value)
		default:
			others = append(others, e)
		}
	}
	p.Fields = append(p.Fields, flashes...)
	p.Fields = append(p.Fields, others...)
	return p
}

// symfonyMetaOf reads MetadataBag's {c: created, u: updated, l: lifetime};
// the timestamps are Unix seconds.
func symfonyMetaOf(v Value) *SymfonyMeta {
	if v.Kind != KindMap {
		return nil
	}
	m := &SymfonyMeta{}
	for _, e := range v.Entries {
		n, ok := asInt(e.Value)
		if !ok {
			continue
		}
		switch e.Key {
		case "c":
			m.Created = time.Unix(n, 0).UTC()
		case "u":
			m.Updated = time.Unix(n, 0).UTC()
		case "l":
			m.Lifetime = n
		}
	}
	return m
}

// asInt reads an integer stored as an int, a whole float or decimal text.
func asInt(v Value) (int64, bool) {
	switch v.Kind {
	case KindInt:
		return v.Int, true
	case KindFloat:
		if v.Float >= -1<<62 && v.Float <= 1<<62 {
			return int64(v.Float), true
		}
	case KindString:
		n, err := strconv.ParseInt(v.Str, 10, 64)
		return n, err == nil
	}
	return 0, false
}
