package cookies

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits Chromium applies while parsing a Set-Cookie line (net/cookies/parsed_cookie.h).
const (
	// MaxNameValueSize is the most bytes name and value may have together.
	MaxNameValueSize = 4096
	// MaxAttributeValueSize is the most bytes an attribute value may have; a longer
	// one is ignored, as if the attribute were absent.
	MaxAttributeValueSize = 1024
	// MaxPairs is how many name=value pairs (the cookie's own included) Chromium
	// reads from one line; the rest is ignored.
	MaxPairs = 16
	// MaxLineSize bounds the work ParseSetCookie does on hostile input; no browser
	// accepts a cookie line anywhere near this long.
	MaxLineSize = 64 << 10
)

// SameSite is a cookie's SameSite attribute as the browser enforces it.
type SameSite int

// SameSite values. Unspecified covers both a missing attribute and an unrecognised
// value: Chromium treats both as Lax ("Lax by default").
const (
	SameSiteUnspecified SameSite = iota
	SameSiteNone
	SameSiteLaxMode
	SameSiteStrictMode
)

// String returns the attribute value as written in Set-Cookie, or "" for unspecified.
func (s SameSite) String() string {
	switch s {
	case SameSiteNone:
		return "None"
	case SameSiteLaxMode:
		return "Lax"
	case SameSiteStrictMode:
		return "Strict"
	}
	return ""
}

// Raw is one Set-Cookie line as written, before any request context is applied.
// Presence flags distinguish an absent attribute from an empty or invalid one,
// which net/http's parser folds together.
type Raw struct {
	Name  string
	Value string

	Domain    string // attribute value as written (leading dot kept)
	HasDomain bool
	Path      string // attribute value as written; may be invalid (not starting with /)
	HasPath   bool

	Secure      bool
	HTTPOnly    bool
	Partitioned bool

	SameSite SameSite
	// SameSiteRaw is the SameSite attribute value as written; with HasSameSite and
	// SameSite == SameSiteUnspecified it marks an invalid value.
	SameSiteRaw string
	HasSameSite bool

	MaxAge    int64 // seconds; meaningful when HasMaxAge
	HasMaxAge bool
	// MaxAgeRaw is the Max-Age value as written; set even when it did not parse.
	MaxAgeRaw string

	Expires    time.Time // meaningful when HasExpires
	HasExpires bool
	// ExpiresRaw is the Expires value as written; set even when it did not parse.
	ExpiresRaw string

	// Ignored lists attributes the browser ignores: unknown names, values over
	// MaxAttributeValueSize, pairs beyond MaxPairs, unparsable Max-Age/Expires.
	Ignored []string
}

// ParseError is why a Set-Cookie line yields no cookie at all.
type ParseError struct {
	Reason Reason // SyntaxError, DisallowedCharacter, NoCookieContent or NameValuePairExceedsMaxSize
	Msg    string
}

func (e *ParseError) Error() string { return fmt.Sprintf("set-cookie: %s (%s)", e.Msg, e.Reason) }

// ErrTooLong is returned (wrapped in a ParseError) for lines over MaxLineSize.
var ErrTooLong = errors.New("line too long")

// ParseSetCookie parses one Set-Cookie header value the way Chromium's ParsedCookie
// does. It does not use net/http.ParseSetCookie: that parser rejects cookies
// Chromium stores (names that are not tokens, a value without a name), strips the
// quotes Chromium keeps as part of the value, reads only two Expires formats, and
// drops invalid attributes without saying they were there.
//
// Rules: the pair before the first ';' is the cookie; without '=' it is a value
// with an empty name. Spaces and tabs around names and values are trimmed.
// Attributes are case-insensitive and the last occurrence wins. Control characters
// other than tab make the line invalid.
func ParseSetCookie(line string) (Raw, error) {
	var r Raw
	if len(line) > MaxLineSize {
		return r, &ParseError{Reason: SyntaxError, Msg: ErrTooLong.Error()}
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return r, &ParseError{Reason: DisallowedCharacter, Msg: fmt.Sprintf("control character %#x at %d", c, i)}
		}
	}
	pairs := strings.Split(line, ";")
	first := pairs[0]
	if eq := strings.IndexByte(first, '='); eq >= 0 {
		r.Name = trimWS(first[:eq])
		r.Value = trimWS(first[eq+1:])
	} else {
		r.Value = trimWS(first)
	}
	if r.Name == "" && r.Value == "" {
		return r, &ParseError{Reason: NoCookieContent, Msg: "empty name and value"}
	}
	if len(r.Name)+len(r.Value) > MaxNameValueSize {
		return r, &ParseError{Reason: NameValuePairExceedsMaxSize,
			Msg: fmt.Sprintf("name and value are %d bytes, over %d", len(r.Name)+len(r.Value), MaxNameValueSize)}
	}
	n := 1
	for _, p := range pairs[1:] {
		p = trimWS(p)
		if p == "" {
			continue
		}
		n++
		if n > MaxPairs {
			r.Ignored = append(r.Ignored, p)
			continue
		}
		key, val := p, ""
		if eq := strings.IndexByte(p, '='); eq >= 0 {
			key, val = trimWS(p[:eq]), trimWS(p[eq+1:])
		}
		if len(val) > MaxAttributeValueSize {
			r.Ignored = append(r.Ignored, key)
			continue
		}
		switch strings.ToLower(key) {
		case "domain":
			r.Domain, r.HasDomain = val, true
		case "path":
			r.Path, r.HasPath = val, true
		case "secure":
			r.Secure = true
		case "httponly":
			r.HTTPOnly = true
		case "partitioned":
			r.Partitioned = true
		case "samesite":
			r.HasSameSite, r.SameSiteRaw = true, val
			switch strings.ToLower(val) {
			case "none":
				r.SameSite = SameSiteNone
			case "lax":
				r.SameSite = SameSiteLaxMode
			case "strict":
				r.SameSite = SameSiteStrictMode
			default:
				r.SameSite = SameSiteUnspecified
			}
		case "max-age":
			r.MaxAgeRaw = val
			if secs, ok := parseMaxAge(val); ok {
				r.MaxAge, r.HasMaxAge = secs, true
			} else {
				r.HasMaxAge = false
				r.Ignored = append(r.Ignored, p)
			}
		case "expires":
			r.ExpiresRaw = val
			if t, ok := ParseCookieDate(val); ok {
				r.Expires, r.HasExpires = t, true
			} else {
				r.HasExpires = false
				r.Ignored = append(r.Ignored, p)
			}
		default:
			r.Ignored = append(r.Ignored, p)
		}
	}
	return r, nil
}

func trimWS(s string) string { return strings.Trim(s, " \t") }

// parseMaxAge accepts an optional '-' and decimal digits; values beyond int64
// saturate, as Chromium's StringToInt64 result is used on overflow.
func parseMaxAge(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	digits := s
	if s[0] == '-' {
		digits = s[1:]
	}
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if s[0] == '-' {
			return -1 << 63, true
		}
		return 1<<63 - 1, true
	}
	return v, true
}

var months = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

func isDateDelimiter(c byte) bool {
	return c == 0x09 || (c >= 0x20 && c <= 0x2f) || (c >= 0x3b && c <= 0x40) ||
		(c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e)
}

// ParseCookieDate parses an Expires value with the cookie-date algorithm of
// RFC 6265bis §5.1.1, which is far more lenient than HTTP-date: tokens in any
// order, two-digit years, trailing junk after numbers.
func ParseCookieDate(s string) (time.Time, bool) {
	var (
		foundTime, foundDay, foundMonth, foundYear bool
		hh, mm, ss, day, month, year               int
	)
	for len(s) > 0 {
		i := 0
		for i < len(s) && isDateDelimiter(s[i]) {
			i++
		}
		s = s[i:]
		j := 0
		for j < len(s) && !isDateDelimiter(s[j]) {
			j++
		}
		tok := s[:j]
		s = s[j:]
		if tok == "" {
			continue
		}
		if !foundTime {
			if h, m, sec, ok := parseTimeToken(tok); ok {
				foundTime, hh, mm, ss = true, h, m, sec
				continue
			}
		}
		if !foundDay {
			if v, ok := leadingDigits(tok, 1, 2); ok {
				foundDay, day = true, v
				continue
			}
		}
		if !foundMonth && len(tok) >= 3 {
			p := strings.ToLower(tok[:3])
			found := false
			for k, mo := range months {
				if p == mo {
					foundMonth, month, found = true, k+1, true
					break
				}
			}
			if found {
				continue
			}
		}
		if !foundYear {
			if v, ok := leadingDigits(tok, 2, 4); ok {
				foundYear, year = true, v
				continue
			}
		}
	}
	if !foundTime || !foundDay || !foundMonth || !foundYear {
		return time.Time{}, false
	}
	if year >= 70 && year <= 99 {
		year += 1900
	} else if year >= 0 && year <= 69 {
		year += 2000
	}
	if day < 1 || day > 31 || year < 1601 || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hh, mm, ss, 0, time.UTC)
	if t.Day() != day { // 31 Feb and the like
		return time.Time{}, false
	}
	return t, true
}

// leadingDigits reads min..max digits at the start of tok, followed by a non-digit
// or the end.
func leadingDigits(tok string, min, max int) (int, bool) {
	n := 0
	for n < len(tok) && tok[n] >= '0' && tok[n] <= '9' {
		n++
	}
	if n < min || n > max {
		return 0, false
	}
	v, _ := strconv.Atoi(tok[:n])
	return v, true
}

// parseTimeToken reads hms-time = 1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT, optionally
// followed by non-digits.
func parseTimeToken(tok string) (h, m, s int, ok bool) {
	parts := strings.SplitN(tok, ":", 3)
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	var vals [3]int
	for i, p := range parts {
		n := 0
		for n < len(p) && p[n] >= '0' && p[n] <= '9' {
			n++
		}
		if n < 1 || n > 2 || (i < 2 && n != len(p)) {
			return 0, 0, 0, false
		}
		vals[i], _ = strconv.Atoi(p[:n])
	}
	return vals[0], vals[1], vals[2], true
}
