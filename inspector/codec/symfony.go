package codec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Symfony's session storage keys (NativeSessionStorage's bags).
const (
	symfonyAttributes = "_sf2_attributes"
	symfonyFlashes    = "_symfony_flashes"
	symfonyMeta       = "_sf2_meta"
	// symfonySecurityPrefix starts the attributes under which the security
	// component's ContextListener keeps each firewall's token: serialize($token)
	// under _security_<firewall>.
	symfonySecurityPrefix = "_security_"
)

// DecodeSymfony decodes a Symfony session; it is Decode(FormatSymfony, data,
// lim). Symfony stores what PHP's session handler writes, so the PHP format
// (php, php_serialize, php_binary or igbinary) is detected from the bytes.
// Fields are the entries of _sf2_attributes flattened to the top level (the
// application's attribute names), then _symfony_flashes when it holds any
// flash, then any other top-level variable the application set beside
// Symfony's bags. _sf2_meta is not a field: it changes on every request and
// would make every write look like a data change; it fills Meta.Symfony.
// A _security_<firewall> attribute holding a serialized token is decoded in
// place (see expandSecurityToken).
func DecodeSymfony(data []byte, lim Limits) (*Payload, error) {
	return Decode(FormatSymfony, data, lim)
}

func decodeSymfony(data []byte, b *budget) (*Payload, error) {
	base, err := decodePHPAny(data, b)
	if err != nil {
		return nil, fmt.Errorf("symfony session: %w", err)
	}
	return symfonyView(base, b)
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

// symfonyFromPHP is symfonyView for a session recognised while sniffing, whose
// budget is not at hand: the token is decoded under the default limits, and
// left a string if it exceeds them.
func symfonyFromPHP(base *Payload) *Payload {
	if p, err := symfonyView(base, newBudget(DefaultLimits)); err == nil {
		return p
	}
	p, _ := symfonyView(base, nil) // without a budget nothing is decoded, so nothing fails
	return p
}

// symfonyView reshapes a decoded PHP session into Symfony's view; with a nil
// budget, tokens stay strings.
func symfonyView(base *Payload, b *budget) (*Payload, error) {
	p := &Payload{Format: FormatSymfony}
	var flashes, others []Entry
	for _, e := range base.Fields {
		switch e.Key {
		case symfonyAttributes:
			if e.Value.Kind == KindMap {
				for _, attr := range e.Value.Entries {
					expanded, err := expandSecurityToken(attr, b)
					if err != nil {
						return nil, fmt.Errorf("symfony session: attribute %s: %w", quoteName(attr.Key), err)
					}
					p.Fields = append(p.Fields, expanded)
				}
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
	return p, nil
}

// expandSecurityToken replaces a _security_<firewall> attribute's serialized
// token by its decoded value. Left a string, it would show the user object the
// token holds verbatim, including the password hash Symfony keeps there to
// notice a password change (AbstractToken::hasUserChanged), where redaction by
// field name cannot reach it; decoded, the user's password property is a field
// like any other. Decoding reads the token as data: no class is looked up or
// instantiated. A value that is not a whole serialize() value (an app's own
// string under such a name) stays as it is; only a limit error is returned,
// since the token counts against the same bounds as the session around it.
func expandSecurityToken(e Entry, b *budget) (Entry, error) {
	if b == nil || !strings.HasPrefix(e.Key, symfonySecurityPrefix) || e.Value.Kind != KindString || !startsPHPValue(e.Value.Str) {
		return e, nil
	}
	saved := *b
	p := newPHPParser(e.Value.Str, b)
	// The token sits where the string did: one level into _sf2_attributes.
	v, err := p.value(1)
	if err == nil && p.pos != len(e.Value.Str) {
		err = p.errAt(ErrSyntax, "trailing data after the token")
	}
	if err != nil {
		if isLimitError(err) {
			return e, err
		}
		*b = saved // a string that is no token costs what a string costs
		return e, nil
	}
	return Entry{Key: e.Key, Value: v}, nil
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
