// Package traffic captures HTTP exchanges for sessionscope: a reverse proxy that sits in
// front of the application and records every request without buffering bodies, and a
// streaming HAR importer for browser exports. Both produce model.Exchange objects with
// session ids masked in URLs and cookie values kept out of JSON; cookies are mapped to
// session refs through a caller-supplied Mapping (framework.RefMapper by default).
package traffic

import (
	"net/http"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Mapping maps a cookie to the ref of the session it carries.
type Mapping func(name, value string) (ref string, ok bool)

func defaultMapping(m Mapping) Mapping {
	if m != nil {
		return m
	}
	return framework.RefMapper(nil)
}

// isSessionParam reports whether a query or path parameter carries a session id.
func isSessionParam(name, value string, m Mapping) bool {
	if framework.IsSessionCookieName(name, nil) {
		return true
	}
	if m == nil || value == "" {
		return false
	}
	_, ok := m(name, value)
	return ok
}

// MaskURL masks the values of session parameters in a URL's query string and path
// parameters (PHPSESSID=…, ;jsessionid=…) with model.Mask, and hides the values of
// parameters with sensitive names (access_token, password; r, the built-in list plus
// --redact) entirely, leaving the rest of the URL as it was written. Parameters are session
// parameters by the framework table's cookie names, or when m maps them to a session.
func MaskURL(raw string, m Mapping, r model.Redaction) string {
	if !strings.ContainsAny(raw, "?;") {
		return raw
	}
	frag := ""
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw, frag = raw[:i], raw[i:]
	}
	base, query, hasQuery := strings.Cut(raw, "?")
	base = maskParams(base, ";", m, r)
	if hasQuery {
		base += "?" + maskParams(query, "&", m, r)
	}
	return base + frag
}

// maskParams masks name=value pairs separated by sep. For path parameters (sep ";")
// the first part is the path itself and a value ends at the next slash.
func maskParams(s, sep string, m Mapping, r model.Redaction) string {
	if !strings.Contains(s, "=") {
		return s
	}
	parts := strings.Split(s, sep)
	changed := false
	for i, part := range parts {
		if sep == ";" && i == 0 {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok || value == "" {
			continue
		}
		tail := ""
		if sep == ";" {
			if j := strings.IndexByte(value, '/'); j >= 0 {
				value, tail = value[:j], value[j:]
			}
		}
		uname, uvalue := unescapeLenient(name, true), unescapeLenient(value, true)
		switch {
		case isSessionParam(uname, uvalue, m):
			parts[i] = name + "=" + model.Mask(uvalue) + tail
		case r.Sensitive(uname):
			// A password or token is not an id: none of it is shown.
			parts[i] = name + "=" + model.Redacted + tail
		default:
			continue
		}
		changed = true
	}
	if !changed {
		return s
	}
	return strings.Join(parts, sep)
}

// sentCookies parses Cookie header lines into the exchange's cookies and the session
// ref the request carried (the first cookie that maps). skip names a cookie that is
// not the application's (the proxy's sticky cookie).
func sentCookies(lines []string, m Mapping, skip string) ([]model.SentCookie, string) {
	var out []model.SentCookie
	ref := ""
	for _, line := range lines {
		for _, pair := range strings.Split(line, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, value, _ := strings.Cut(pair, "=")
			name = strings.TrimSpace(name)
			if name == "" || name == skip {
				continue
			}
			sc := model.SentCookie{Name: name, Value: value}
			if r, ok := m(name, value); ok {
				sc.SessionRef = r
				if ref == "" {
					ref = r
				}
			}
			out = append(out, sc)
		}
	}
	return out, ref
}

// parseSetCookie turns a Set-Cookie line into the exchange's record with net/http's
// parser. A line net/http refuses is still recorded, by the name before its '=', with
// ParseError set, because browsers are more lenient and rules may want to say so.
func parseSetCookie(line string, m Mapping) model.SetCookie {
	sc := model.SetCookie{Raw: line}
	c, err := http.ParseSetCookie(line)
	if err != nil {
		sc.ParseError = err.Error()
		first, _, _ := strings.Cut(line, ";")
		name, value, _ := strings.Cut(first, "=")
		sc.Name, sc.Value = strings.TrimSpace(name), strings.TrimSpace(value)
		return sc
	}
	sc.Name, sc.Value, sc.Domain, sc.Path = c.Name, c.Value, c.Domain, c.Path
	sc.Secure, sc.HTTPOnly, sc.Partitioned = c.Secure, c.HttpOnly, c.Partitioned
	sc.SameSite = sameSiteName(c.SameSite)
	if !c.Expires.IsZero() {
		t := c.Expires.UTC()
		sc.Expires = &t
	}
	switch {
	case c.MaxAge > 0:
		v := c.MaxAge
		sc.MaxAge = &v
	case c.MaxAge < 0: // net/http's "Max-Age=0 or less": delete now
		v := 0
		sc.MaxAge = &v
	}
	if ref, ok := m(sc.Name, sc.Value); ok {
		sc.SessionRef = ref
	}
	return sc
}

func sameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return "Lax"
	case http.SameSiteStrictMode:
		return "Strict"
	case http.SameSiteNoneMode:
		return "None"
	}
	return ""
}

// msDuration converts HAR milliseconds; negative (HAR's "not applicable"), absurd and
// non-finite values count as zero.
func msDuration(ms float64) time.Duration {
	if !(ms > 0) || ms > 1e12 {
		return 0
	}
	return time.Duration(ms * float64(time.Millisecond))
}
