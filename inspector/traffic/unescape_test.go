package traffic

import (
	"strings"
	"testing"
)

func TestUnescapeLenient(t *testing.T) {
	cases := []struct {
		name string
		in   string
		plus bool
		want string
	}{
		{name: "plain", in: "abc", plus: true, want: "abc"},
		{name: "empty", in: "", plus: true, want: ""},
		{name: "escapes", in: "a%20b%2Fc%3d", plus: true, want: "a b/c="},
		{name: "plus is a space in a query", in: "a+b", plus: true, want: "a b"},
		{name: "plus stays in a path", in: "a+b%20c", plus: false, want: "a+b c"},
		{name: "malformed escape kept", in: "%zz%41", plus: true, want: "%zzA"},
		{name: "trailing percent", in: "abc%", plus: true, want: "abc%"},
		{name: "truncated escape", in: "x%4", plus: false, want: "x%4"},
		{name: "escape at the end", in: "x%41", plus: false, want: "xA"},
		{name: "one round only", in: "%250d%250a", plus: false, want: "%0d%0a"},
		{name: "crlf", in: "a%0d%0AX-Injected:%201", plus: false, want: "a\r\nX-Injected: 1"},
		{name: "malformed next to plus", in: "%g+%2B", plus: true, want: "%g +"},
		{name: "invalid utf-8 bytes pass", in: "%ff%fe", plus: true, want: "\xff\xfe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := unescapeLenient(tc.in, tc.plus); got != tc.want {
				t.Errorf("unescapeLenient(%q, %v) = %q, want %q", tc.in, tc.plus, got, tc.want)
			}
		})
	}
}

// referenceUnescape is the plain byte loop unescapeLenient must agree with: each
// valid %XX is one byte, anything else is itself.
func referenceUnescape(s string, plus bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+' && plus:
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(hexVal(s[i+1])<<4 | hexVal(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func FuzzUnescapeLenient(f *testing.F) {
	for _, s := range []string{"", "a+b", "%41", "%zz", "%", "%4", "%250d%250a", "a%0d%0ab", "%%41", "+%2B%2b", "\xff%ff"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, plus bool) {
		got := unescapeLenient(s, plus)
		if want := referenceUnescape(s, plus); got != want {
			t.Fatalf("unescapeLenient(%q, %v) = %q, want %q", s, plus, got, want)
		}
		if len(got) > len(s) {
			t.Fatalf("unescapeLenient(%q, %v) grew to %q", s, plus, got)
		}
	})
}
