package traffic

import (
	"net/url"
	"strings"
)

// unescapeLenient percent-decodes s once; with plus, '+' becomes a space too, as query
// decoders do. It is lenient on purpose: what it reads is request input (a URL, a
// query, a Referer) that an attacker or a careless client wrote, and a malformed
// escape ("%zz", a trailing "%4") must not hide the rest of the text, neither from
// the session-id masking nor from the response-splitting check. A '%' that does not
// start a valid escape stands for itself; every other escape is decoded by net/url.
func unescapeLenient(s string, plus bool) string {
	if !strings.Contains(s, "%") && (!plus || !strings.Contains(s, "+")) {
		return s
	}
	if u, err := unescapeStrict(s, plus); err == nil {
		return u
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])) {
			b.WriteString("%25") // the literal '%' net/url reads back as itself
			continue
		}
		b.WriteByte(s[i])
	}
	u, err := unescapeStrict(b.String(), plus)
	if err != nil {
		return s // unreachable: every '%' now starts a valid escape
	}
	return u
}

// unescapeStrict is net/url's decoder for a query component (plus) or a path segment.
func unescapeStrict(s string, plus bool) (string, error) {
	if plus {
		return url.QueryUnescape(s)
	}
	return url.PathUnescape(s)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
