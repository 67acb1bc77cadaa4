package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// JSON is validated by encoding/json (json.Valid: the standard library's
// grammar, no allocation) and then walked by jsonParser, which can assume
// well-formed input. The walk keeps object key order, which the tracker
// shows and a Go map would lose, keeps strings as sub-strings of one copy of
// the input, and is bounded by MaxDepth, which a cheap pre-scan checks before
// anything else so a nesting bomb never reaches a recursive step (encoding/
// json's own bound is 10,000 levels). json.Decoder.Token streaming, the
// obvious alternative, allocates per token and ran four times slower.

// jsonParser walks validated JSON into Values.
type jsonParser struct {
	src string
	pos int
	b   *budget
	// Open containers collect their members on these shared stacks and copy
	// them out once, exact-size, when they close: JSON gives no counts, and
	// growing each container's slice by appending cost a fifth of the time.
	entries []Entry
	items   []Value
}

func (p *jsonParser) errAt(sentinel error, msg string) error { return errAt(p.pos, sentinel, msg) }

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

// next skips whitespace and returns the next byte; the input was validated,
// so running out here means a bug, reported as ErrSyntax rather than a panic.
func (p *jsonParser) next() (byte, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return 0, p.errAt(ErrSyntax, "unexpected end of validated JSON")
	}
	return p.src[p.pos], nil
}

func (p *jsonParser) value(depth int) (Value, error) {
	if err := p.b.node(); err != nil {
		return Value{}, p.errAt(err, "too many values")
	}
	c, err := p.next()
	if err != nil {
		return Value{}, err
	}
	switch c {
	case '{':
		if depth+1 > p.b.maxDepth {
			return Value{}, errTooDeep(p.pos, p.b.maxDepth)
		}
		p.pos++
		mark := len(p.entries)
		defer func() { p.entries = p.entries[:mark] }()
		for {
			c, err := p.next()
			if err != nil {
				return Value{}, err
			}
			if c == '}' {
				p.pos++
				var es []Entry
				if n := len(p.entries) - mark; n > 0 {
					es = make([]Entry, n)
					copy(es, p.entries[mark:])
				}
				return Value{Kind: KindMap, Entries: es}, nil
			}
			if c == ',' {
				p.pos++
				if c, err = p.next(); err != nil {
					return Value{}, err
				}
			}
			if c != '"' {
				return Value{}, p.errAt(ErrSyntax, "expected an object key")
			}
			k, err := p.str()
			if err != nil {
				return Value{}, err
			}
			if c, err := p.next(); err != nil || c != ':' {
				return Value{}, p.errAt(ErrSyntax, "expected ':'")
			}
			p.pos++
			v, err := p.value(depth + 1)
			if err != nil {
				return Value{}, err
			}
			p.entries = append(p.entries, Entry{Key: k, Value: v})
		}
	case '[':
		if depth+1 > p.b.maxDepth {
			return Value{}, errTooDeep(p.pos, p.b.maxDepth)
		}
		p.pos++
		mark := len(p.items)
		defer func() { p.items = p.items[:mark] }()
		for {
			c, err := p.next()
			if err != nil {
				return Value{}, err
			}
			if c == ']' {
				p.pos++
				var items []Value
				if n := len(p.items) - mark; n > 0 {
					items = make([]Value, n)
					copy(items, p.items[mark:])
				}
				return Value{Kind: KindList, Items: items}, nil
			}
			if c == ',' {
				p.pos++
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return Value{}, err
			}
			p.items = append(p.items, v)
		}
	case '"':
		s, err := p.str()
		return Value{Kind: KindString, Str: s}, err
	case 't':
		p.pos += len("true")
		return Value{Kind: KindBool, Bool: true}, nil
	case 'f':
		p.pos += len("false")
		return Value{Kind: KindBool}, nil
	case 'n':
		p.pos += len("null")
		return Value{Kind: KindNull}, nil
	}
	start := p.pos
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			p.pos++
			continue
		}
		break
	}
	if p.pos == start {
		return Value{}, p.errAt(ErrSyntax, "unexpected byte in validated JSON")
	}
	return jsonNumber(p.src[start:p.pos]), nil
}

// str reads a string token. Without escapes it is a sub-string of the input;
// with escapes encoding/json decodes it (\u surrogate pairs included).
func (p *jsonParser) str() (string, error) {
	start := p.pos
	p.pos++ // opening quote
	escaped := false
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '\\':
			escaped = true
			p.pos += 2
			continue
		case '"':
			p.pos++
			if !escaped {
				return p.src[start+1 : p.pos-1], nil
			}
			var s string
			if err := json.Unmarshal([]byte(p.src[start:p.pos]), &s); err != nil {
				return "", errAt(start, ErrSyntax, "bad string escape")
			}
			return s, nil
		}
		p.pos++
	}
	return "", errAt(start, ErrSyntax, "unterminated string in validated JSON")
}

// jsonNumber keeps integers exact (session ids, timestamps in ms) and falls
// back to float64 for everything else, including integers beyond int64.
func jsonNumber(lit string) Value {
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return Value{Kind: KindInt, Int: n}
	}
	f, _ := strconv.ParseFloat(lit, 64) // validated syntax; out of range gives ±Inf
	return Value{Kind: KindFloat, Float: f}
}

// jsonTooDeep finds the first bracket nested deeper than max, skipping
// string contents. It runs before validation so that a nesting bomb is
// reported as ErrTooDeep, whatever else is wrong with it.
func jsonTooDeep(s string, max int) (int, bool) {
	depth := 0
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return i, true
			}
		case '}', ']':
			depth--
		}
	}
	return 0, false
}

// jsonSyntaxError explains why json.Valid refused data, with encoding/json's
// own message and offset.
func jsonSyntaxError(data []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(data, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Error(), "unexpected end of JSON input") {
			return errAt(int(se.Offset), ErrTruncated, se.Error())
		}
		return errAt(int(se.Offset), ErrSyntax, se.Error())
	}
	return errAt(0, ErrSyntax, "invalid JSON")
}

// decodeJSONValue decodes one complete JSON document.
func decodeJSONValue(data []byte, b *budget) (Value, error) {
	src := string(data)
	if off, deep := jsonTooDeep(src, b.maxDepth); deep {
		return Value{}, errTooDeep(off, b.maxDepth)
	}
	if !json.Valid(data) {
		return Value{}, jsonSyntaxError(data)
	}
	p := &jsonParser{src: src, b: b}
	v, err := p.value(0)
	if err != nil {
		return Value{}, err
	}
	return v, nil
}

// decodeJSON decodes a generic JSON session: an object's keys become Fields.
// Any other JSON value becomes a single field named "", so an application
// that stores a bare list or string is still shown.
func decodeJSON(data []byte, b *budget) (*Payload, error) {
	v, err := decodeJSONValue(data, b)
	if err != nil {
		return nil, fmt.Errorf("json session: %w", err)
	}
	return &Payload{Format: FormatJSON, Fields: jsonFields(v)}, nil
}

func jsonFields(v Value) []Entry {
	if v.Kind == KindMap {
		return v.Entries
	}
	return []Entry{{Key: "", Value: v}}
}

// decodeExpress decodes an express-session (connect-redis) JSON session. The
// payload must be a JSON object; its "cookie" object, when present, fills
// Meta.Express (nil when absent). Fields are all top-level keys, "cookie"
// included, so a change to the cookie is visible like any other field.
func decodeExpress(data []byte, b *budget) (*Payload, error) {
	v, err := decodeJSONValue(data, b)
	if err != nil {
		return nil, fmt.Errorf("express session: %w", err)
	}
	if v.Kind != KindMap {
		return nil, fmt.Errorf("express session: top-level JSON value is not an object: %w", ErrSyntax)
	}
	p := &Payload{Format: FormatExpress, Fields: v.Entries}
	if c, ok := findEntry(v.Entries, "cookie"); ok && c.Kind == KindMap {
		p.Meta.Express = expressCookie(c)
	}
	return p, nil
}

// isExpressSession reports whether a decoded JSON object looks like
// express-session's: a "cookie" object with at least one of the fields
// express-session always writes.
func isExpressSession(v Value) bool {
	if v.Kind != KindMap {
		return false
	}
	c, ok := findEntry(v.Entries, "cookie")
	if !ok || c.Kind != KindMap {
		return false
	}
	for _, k := range [...]string{"originalMaxAge", "expires", "httpOnly", "path"} {
		if _, ok := findEntry(c.Entries, k); ok {
			return true
		}
	}
	return false
}

// expressCookie reads express-session's serialized Cookie. Fields with an
// unexpected type are left unset rather than failing the whole payload: the
// cookie is metadata, the session data is still worth showing.
func expressCookie(c Value) *ExpressCookie {
	ec := &ExpressCookie{}
	for _, e := range c.Entries {
		v := e.Value
		switch e.Key {
		case "originalMaxAge":
			switch v.Kind {
			case KindInt:
				n := v.Int
				ec.OriginalMaxAge = &n
			case KindFloat:
				n := int64(v.Float)
				ec.OriginalMaxAge = &n
			}
		case "expires":
			if v.Kind == KindString {
				if t, ok := parseJSTime(v.Str); ok {
					ec.Expires = &t
				}
			}
		case "secure":
			if v.Kind == KindBool {
				b := v.Bool
				ec.Secure = &b
			}
		case "httpOnly":
			if v.Kind == KindBool {
				b := v.Bool
				ec.HTTPOnly = &b
			}
		case "domain":
			if v.Kind == KindString {
				ec.Domain = v.Str
			}
		case "path":
			if v.Kind == KindString {
				ec.Path = v.Str
			}
		case "sameSite":
			// The cookie package accepts true (meaning Strict) as well as
			// the attribute's value; false means no SameSite attribute.
			switch v.Kind {
			case KindString:
				ec.SameSite = v.Str
			case KindBool:
				if v.Bool {
					ec.SameSite = "Strict"
				}
			}
		}
	}
	return ec
}

// findEntry returns the value of the first entry named key.
func findEntry(es []Entry, key string) (Value, bool) {
	for i := range es {
		if es[i].Key == key {
			return es[i].Value, true
		}
	}
	return Value{}, false
}
