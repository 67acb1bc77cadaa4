package codec

import (
	"fmt"
	"strings"
)

// decodePHPSession decodes session.serialize_handler=php: `name|value`
// repeated, where value is serialize() output.
//
// PHP 5 wrote an undefined variable as `!name|` with no value; PHP 7+ has no
// such marker and writes a variable whose name starts with '!' like any other.
// Both are accepted: a '!' name followed by what can start a value is read as
// PHP 7+ does, otherwise it is PHP 5's marker (Key without the '!', Null
// value). Deciding from the next bytes, rather than by trying a parse and
// backtracking, keeps hostile input from costing quadratic time.
func decodePHPSession(data []byte, b *budget) (*Payload, error) {
	src := string(data)
	p := newPHPParser(src, b)
	var fields []Entry
	for p.pos < len(src) {
		bar := strings.IndexByte(src[p.pos:], '|')
		if bar < 0 {
			return nil, fmt.Errorf("php session: offset %d: field name without '|': %w", p.pos, ErrSyntax)
		}
		name := src[p.pos : p.pos+bar]
		p.pos += bar + 1
		if len(name) > 1 && name[0] == '!' && !startsPHPValue(src[p.pos:]) {
			fields = append(fields, Entry{Key: name[1:], Value: Value{Kind: KindNull}})
			continue
		}
		v, err := p.value(0)
		if err != nil {
			return nil, fmt.Errorf("php session: field %s: %w", quoteName(name), err)
		}
		fields = append(fields, Entry{Key: name, Value: v})
	}
	return &Payload{Format: FormatPHP, Fields: fields}, nil
}

// phpBinaryUndef is the bit PHP 5's php_binary handler set in the name length
// byte of an undefined variable (PS_BIN_UNDEF); such an entry has no value.
const phpBinaryUndef = 0x80

// decodePHPBinary decodes session.serialize_handler=php_binary: a length
// byte, the name, then the serialize() value.
func decodePHPBinary(data []byte, b *budget) (*Payload, error) {
	src := string(data)
	p := newPHPParser(src, b)
	var fields []Entry
	for p.pos < len(src) {
		lb := src[p.pos]
		n := int(lb &^ phpBinaryUndef)
		if n+1 > p.remaining() {
			return nil, errLengthCtx("php_binary session", errLength(p.pos, "name length", uint64(n), p.remaining()-1))
		}
		name := src[p.pos+1 : p.pos+1+n]
		p.pos += 1 + n
		if lb&phpBinaryUndef != 0 {
			fields = append(fields, Entry{Key: name, Value: Value{Kind: KindNull}})
			continue
		}
		v, err := p.value(0)
		if err != nil {
			return nil, fmt.Errorf("php_binary session: field %s: %w", quoteName(name), err)
		}
		fields = append(fields, Entry{Key: name, Value: v})
	}
	return &Payload{Format: FormatPHPBinary, Fields: fields}, nil
}

func errLengthCtx(ctx string, err error) error { return fmt.Errorf("%s: %w", ctx, err) }

// decodePHPSerialize decodes session.serialize_handler=php_serialize: one
// serialize()d array whose entries are the session variables.
func decodePHPSerialize(data []byte, b *budget) (*Payload, error) {
	v, err := decodePHPValue(string(data), b)
	if err != nil {
		return nil, fmt.Errorf("php_serialize session: %w", err)
	}
	if v.Kind != KindMap {
		return nil, fmt.Errorf("php_serialize session: top-level value is not an array: %w", ErrSyntax)
	}
	return &Payload{Format: FormatPHPSerialize, Fields: v.Entries}, nil
}

// startsPHPValue reports whether s begins like a serialize() value: `N;` or a
// type letter and ':'.
func startsPHPValue(s string) bool {
	if len(s) < 2 {
		return false
	}
	if s[0] == 'N' {
		return s[1] == ';'
	}
	return s[1] == ':' && strings.IndexByte("bidsSaOCErR", s[0]) >= 0
}
