package traffic

import (
	"net/http"
	"strings"
)

// ownCookiePrefixes start the names of every cookie sessionscope itself sets: the
// dashboard's login cookie (sessionscope_auth_<port>, or __Host-sessionscope_auth
// under TLS) and the proxy's StickyCookie.
var ownCookiePrefixes = []string{"sessionscope_", "__Host-sessionscope_", "__Secure-sessionscope_"}

// IsOwnCookie reports whether a cookie name is one of sessionscope's own. Browsers
// ignore the port when they pick cookies to send, so a browser logged in to the
// dashboard on 127.0.0.1:7070 also sends its login cookie to the proxy on
// 127.0.0.1:7080: the proxy must not pass it to the app, nor record it.
func IsOwnCookie(name string) bool {
	for _, p := range ownCookiePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// withoutOwnCookies returns the Cookie header lines with sessionscope's own cookies
// removed. The other pairs keep their order and text; a line left empty is dropped.
// The lines themselves are returned when none can hold such a cookie.
func withoutOwnCookies(lines []string) []string {
	if !mayHoldOwnCookie(lines) {
		return lines
	}
	var kept []string
	for _, line := range lines {
		var pairs []string
		for _, pair := range strings.Split(line, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, _, _ := strings.Cut(pair, "=")
			if !IsOwnCookie(strings.TrimSpace(name)) {
				pairs = append(pairs, pair)
			}
		}
		if len(pairs) > 0 {
			kept = append(kept, strings.Join(pairs, "; "))
		}
	}
	return kept
}

// stripOwnCookies removes sessionscope's own cookies from h's Cookie header, and the
// header itself when no cookie is left.
func stripOwnCookies(h http.Header) {
	lines := h.Values("Cookie")
	if !mayHoldOwnCookie(lines) {
		return
	}
	kept := withoutOwnCookies(lines)
	h.Del("Cookie")
	for _, line := range kept {
		h.Add("Cookie", line)
	}
}

// mayHoldOwnCookie is the cheap test that spares most requests the parsing.
func mayHoldOwnCookie(lines []string) bool {
	for _, line := range lines {
		if strings.Contains(line, "sessionscope_") {
			return true
		}
	}
	return false
}
