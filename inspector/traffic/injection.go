package traffic

import (
	"net/http"
	"net/textproto"
	"slices"
	"sort"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Bounds on the response-splitting check; its input is the client's.
const (
	maxDecodeRounds     = 3    // %0d, %250d, %25250d
	maxInjectedPayloads = 16   // texts after a CR/LF kept per request
	maxPayloadLen       = 1024 // bytes of one such text
	maxInjectedLines    = 8    // header lines recorded per exchange
	maxInjectedLineLen  = 256  // bytes of one recorded line
)

// headerLine is one response header, as a name and one value.
type headerLine struct{ name, value string }

// mayCarryCRLF reports, without allocating, whether s holds a CR or LF, raw or
// percent-encoded once or more (%0d, %0A, %250d, %25250a). It is the proxy's cheap
// gate: only a request that passes it pays for the response-splitting check.
func mayCarryCRLF(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n':
			return true
		case '%':
			j := i + 1
			for j+1 < len(s) && s[j] == '2' && s[j+1] == '5' {
				j += 2
			}
			if j+1 < len(s) && s[j] == '0' {
				if c := s[j+1] | 0x20; c == 'a' || c == 'd' {
					return true
				}
			}
		}
	}
	return false
}

// requestMayInject is the gate for a proxied request: its path, query or Referer
// carries a CR or LF in some encoding.
func requestMayInject(r *http.Request) bool {
	return mayCarryCRLF(r.URL.RawQuery) || mayCarryCRLF(r.URL.Path) || mayCarryCRLF(r.URL.RawPath) ||
		mayCarryCRLF(r.Header.Get("Referer"))
}

// crlfPayloads returns the texts that follow a CR or LF in the given URLs (a request
// URL, a Referer) once decoded: the path as a whole, the query parameter by
// parameter, each decoded up to maxDecodeRounds times, since an application that
// decodes twice turns %250d%250a into CR LF.
func crlfPayloads(urls ...string) []string {
	var out []string
	add := func(s string) {
		if !strings.ContainsAny(s, "\r\n") {
			return
		}
		segs := strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
		if len(segs) > 0 && s[0] != '\r' && s[0] != '\n' {
			segs = segs[1:] // the text before the first CR/LF is the header's own value
		}
		for _, seg := range segs {
			if len(out) >= maxInjectedPayloads {
				return
			}
			if len(seg) > maxPayloadLen {
				seg = seg[:maxPayloadLen]
			}
			if !slices.Contains(out, seg) {
				out = append(out, seg)
			}
		}
	}
	decodeAll := func(s string, plus bool) {
		add(s)
		for round := 0; round < maxDecodeRounds; round++ {
			next := unescapeLenient(s, plus)
			if next == s {
				return
			}
			s = next
			add(s)
		}
	}
	for _, u := range urls {
		if !mayCarryCRLF(u) {
			continue
		}
		path, query, _ := strings.Cut(u, "?")
		path, _, _ = strings.Cut(path, "#")
		query, _, _ = strings.Cut(query, "#")
		decodeAll(path, false)
		for _, param := range strings.Split(query, "&") {
			if mayCarryCRLF(param) {
				decodeAll(param, true)
			}
		}
	}
	return out
}

// injectedHeaders returns the response header lines that carry one of the payloads:
// the header's name is the payload's, and its value holds the payload's value — as
// when ?lang=en%0d%0aSet-Cookie:%20PHPSESSID=evil comes back as
// "Set-Cookie: PHPSESSID=evil". Requiring the same name keeps a payload that the
// application neutralised (CR/LF replaced by spaces inside one Location value) from
// counting. Values are masked (maskHeaderLine).
func injectedHeaders(payloads []string, lines []headerLine, m Mapping, r model.Redaction) []string {
	if len(payloads) == 0 {
		return nil
	}
	var out []string
	for _, p := range payloads {
		name, value, ok := strings.Cut(p, ":")
		value = strings.TrimSpace(value)
		if !ok || value == "" || !isToken(name) {
			continue
		}
		for _, l := range lines {
			if !strings.EqualFold(l.name, name) || !strings.Contains(l.value, value) {
				continue
			}
			if s := maskHeaderLine(l.name, l.value, m, r); !slices.Contains(out, s) && len(out) < maxInjectedLines {
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// rawCRLFHeaders returns the header lines whose value holds a raw CR or LF followed
// by what reads as another header ("Location: /login\r\nSet-Cookie: ..."). Browsers'
// HAR exports join repeated Set-Cookie headers with newlines, so those are not counted.
func rawCRLFHeaders(lines []headerLine, m Mapping, r model.Redaction) []string {
	var out []string
	for _, l := range lines {
		if strings.EqualFold(l.name, "Set-Cookie") || !strings.ContainsAny(l.value, "\r\n") {
			continue
		}
		smuggled := false
		segs := strings.FieldsFunc(l.value, func(r rune) bool { return r == '\r' || r == '\n' })
		if len(segs) > 0 && l.value[0] != '\r' && l.value[0] != '\n' {
			segs = segs[1:]
		}
		for _, seg := range segs {
			name, _, ok := strings.Cut(seg, ":")
			smuggled = smuggled || ok && isToken(name)
		}
		if smuggled && len(out) < maxInjectedLines {
			out = append(out, maskHeaderLine(l.name, l.value, m, r))
		}
	}
	return out
}

// responseHeaderLines flattens an http.Header.
func responseHeaderLines(h http.Header) []headerLine {
	var out []headerLine
	for name, vs := range h {
		for _, v := range vs {
			out = append(out, headerLine{name, v})
		}
	}
	return out
}

// maskHeaderLine writes "Name: value" for a finding: session ids masked (a session
// cookie's value, session parameters in a URL), CR and LF shown as \r and \n, and
// the line cut to maxInjectedLineLen.
func maskHeaderLine(name, value string, m Mapping, r model.Redaction) string {
	name = textproto.CanonicalMIMEHeaderKey(name)
	switch name {
	case "Set-Cookie":
		first, rest, hasRest := strings.Cut(value, ";")
		if n, v, ok := strings.Cut(first, "="); ok {
			n, v = strings.TrimSpace(n), strings.TrimSpace(v)
			if v != "" && looksSessionCookie(n, v, m) {
				first = n + "=" + model.Mask(v)
			}
		}
		value = first
		if hasRest {
			value += ";" + rest
		}
	case "Location", "Content-Location", "Refresh":
		value = MaskURL(value, m, r)
	}
	value = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(value)
	line := name + ": " + value
	if len(line) > maxInjectedLineLen {
		line = line[:maxInjectedLineLen] + "…"
	}
	return line
}

// looksSessionCookie: a session cookie by the framework table or the mapping, or by
// a name that says so (the classic response-splitting example plants "sessionID").
func looksSessionCookie(name, value string, m Mapping) bool {
	if isSessionParam(name, value, m) || framework.IsSessionCookieName(name, nil) {
		return true
	}
	l := strings.ToLower(name)
	return strings.Contains(l, "sess") || l == "sid" || strings.HasSuffix(l, "_sid")
}

// isToken: an HTTP header field name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// harInjectedHeaders is the response-splitting check for a HAR entry: request input
// that came back as a header, and header values with a raw CR/LF.
func harInjectedHeaders(e *harEntry, referer string, m Mapping, r model.Redaction) []string {
	var lines []headerLine
	for _, h := range e.respHeaders {
		if strings.EqualFold(h.name, "Set-Cookie") {
			for _, v := range strings.Split(h.value, "\n") {
				if v = strings.TrimSpace(v); v != "" {
					lines = append(lines, headerLine{h.name, v})
				}
			}
			continue
		}
		lines = append(lines, headerLine(h))
	}
	out := rawCRLFHeaders(lines, m, r)
	if mayCarryCRLF(e.url) || mayCarryCRLF(referer) {
		for _, l := range injectedHeaders(crlfPayloads(e.url, referer), lines, m, r) {
			if !slices.Contains(out, l) && len(out) < maxInjectedLines {
				out = append(out, l)
			}
		}
	}
	return out
}
