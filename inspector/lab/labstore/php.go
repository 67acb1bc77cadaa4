package labstore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/codec"
)

// EncodePHP serialises a session with PHP's default session.serialize_handler=php:
// `name|value` for each variable, value in serialize() form: s:LEN:"..."; (LEN in
// bytes, so UTF-8 text counts its encoded length), i:N;, b:0; or b:1;, N;. Variables
// come in sorted name order, so equal sessions encode to equal bytes.
func EncodePHP(s Session) ([]byte, error) {
	names := make([]string, 0, len(s))
	for name := range s {
		if strings.IndexByte(name, '|') >= 0 {
			// PHP refuses these too: the name would run into the value.
			return nil, fmt.Errorf("encode php session: variable name %q contains '|'", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var b []byte
	for _, name := range names {
		b = append(b, name...)
		b = append(b, '|')
		switch v := s[name].(type) {
		case string:
			b = append(b, "s:"...)
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ":\""...)
			b = append(b, v...)
			b = append(b, "\";"...)
		case int64:
			b = appendInt(b, v)
		case int:
			b = appendInt(b, int64(v))
		case bool:
			if v {
				b = append(b, "b:1;"...)
			} else {
				b = append(b, "b:0;"...)
			}
		case nil:
			b = append(b, "N;"...)
		default:
			return nil, fmt.Errorf("encode php session: variable %q holds a %T; the lab stores string, int64, bool or nil", name, v)
		}
	}
	return b, nil
}

func appendInt(b []byte, n int64) []byte {
	b = append(b, "i:"...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, ';')
}

// DecodePHP reads a session written by EncodePHP (or by PHP with the php handler and
// only scalar variables) with sessionscope's own decoder, so the lab reads its sessions
// exactly as the inspector sees them. Arrays, objects and floats are refused: the lab
// never writes them.
func DecodePHP(data []byte) (Session, error) {
	p, err := codec.Decode(codec.FormatPHP, data, codec.Limits{})
	if err != nil {
		return nil, fmt.Errorf("decode php session: %w", err)
	}
	s := make(Session, len(p.Fields))
	for _, f := range p.Fields {
		switch f.Value.Kind {
		case codec.KindString:
			s[f.Key] = f.Value.Str
		case codec.KindInt:
			s[f.Key] = f.Value.Int
		case codec.KindBool:
			s[f.Key] = f.Value.Bool
		case codec.KindNull:
			s[f.Key] = nil
		default:
			return nil, fmt.Errorf("decode php session: variable %q is not a string, integer, bool or null", f.Key)
		}
	}
	return s, nil
}
