package diagnose

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// minIDLength keeps short, common cookie values (a "1", a "yes") from matching parts
// of unrelated URLs: real session ids are 20 characters and more.
const minIDLength = 16

// sessionIDInURL reports a session id carried in a URL — as a query parameter named
// like a session cookie, or as the value of a session cookie appearing in the query
// string or the path. URLs end up in server and proxy logs, browser history, Referer
// headers and shared links, so the id leaks, and a URL-borne id invites fixation
// (do not append the SID to URLs). A session id in a request's Referer
// is the previous page's URL leaking it to whoever received the request.
func sessionIDInURL(rs []*replayed, rec *Recorder, isSession func(string) bool, redact model.Redaction) {
	names := map[string]string{} // cookie value -> cookie name
	for _, r := range rs {
		for _, c := range r.x.CookiesSent {
			if isSession(c.Name) && len(c.Value) >= minIDLength {
				names[c.Value] = c.Name
			}
		}
		for _, c := range r.x.SetCookies {
			if isSession(c.Name) && len(c.Value) >= minIDLength {
				names[c.Value] = c.Name
			}
		}
	}
	ids := newIDIndex(names)
	for _, r := range rs {
		where, name := idInURL(r.u, ids, isSession)
		if where == "" {
			continue
		}
		rec.Report(Report{
			Cause:    r.u.Host + "\x00" + name,
			Severity: model.SeverityWarning,
			Title:    "Session id in a URL",
			Detail: fmt.Sprintf("The request to %s carries the %s session id in its %s. URLs are written to server and proxy logs, "+
				"browser history and Referer headers and get shared, so the id leaks; an id accepted from a URL also lets an attacker fix a victim's session.",
				r.x.URL, name, where),
			Fix: "Carry the session id only in a cookie (OWASP Session Management Cheat Sheet: never in the URL). PHP: session.use_only_cookies = 1, session.use_trans_sid = 0 " +
				"and session.use_strict_mode = 1 in php.ini. Node: never put req.sessionID into links or redirects.",
			Exchange: r.x.ID,
			Evidence: fmt.Sprintf("%s %s %s: session id in the %s", r.x.ID, r.x.Method, r.x.URL, where),
			Time:     r.x.Start,
		})
	}
	// The Referer repeats the previous page's URL: an id in it went to whoever
	// received this request.
	for _, r := range rs {
		if r.x.RawReferer == "" {
			continue
		}
		ru, err := url.Parse(r.x.RawReferer)
		if err != nil || ru.Host == "" {
			continue
		}
		where, name := idInURL(ru, ids, isSession)
		if where == "" {
			continue
		}
		shown := maskIDsInURL(r.x.RawReferer, ru, ids, isSession, redact)
		detail := fmt.Sprintf("The request to %s was sent with a Referer, the address of the page the user came from (%s), that carries the %s session id in its %s. ",
			describeURL(r.u), shown, name, where)
		if !strings.EqualFold(ru.Hostname(), r.u.Hostname()) {
			detail += fmt.Sprintf("So the id leaked to %s — another site, its logs and its analytics — and whoever reads them can take over the session while it lives. "+
				"(Browsers cut a cross-site Referer to the origin by default, so that page sets a looser Referrer-Policy, or the browser is old.)", r.u.Hostname())
		} else {
			detail += "Every request that page makes (images, scripts, links to other sites) repeats the id in a header that ends up in logs, " +
				"and a link to another site hands it over."
		}
		rec.Report(Report{
			Cause:    "referer\x00" + r.u.Host + "\x00" + name,
			Severity: model.SeverityWarning,
			Title:    "Session id leaked in the Referer to " + r.u.Host,
			Detail:   detail,
			Fix: "Carry the session id only in a cookie (OWASP Session Management Cheat Sheet: never in the URL), and keep URLs out of the Referer: Referrer-Policy: strict-origin-when-cross-origin or no-referrer. " +
				"PHP: session.use_only_cookies = 1 and session.use_trans_sid = 0 in php.ini, and header('Referrer-Policy: no-referrer'). " +
				"Node: never put req.sessionID into links or redirects, and res.set('Referrer-Policy', 'no-referrer') (helmet sets a safe policy).",
			Session:  r.x.SessionRef,
			Exchange: r.x.ID,
			Evidence: fmt.Sprintf("%s: Referer %s carries the session id in its %s", evidencePrefix(r.x), shown, where),
			Time:     r.x.Start,
		})
	}
}

// idInURL says where a URL carries a session id: a query parameter named like a
// session cookie, or a known session cookie value in the query string or the path
// (the longest such value, then the first in byte order, so that the answer does not
// depend on map order).
func idInURL(u *url.URL, ids *idIndex, isSession func(string) bool) (where, name string) {
	// Sorted, so that a URL with several candidates gets the same answer every time.
	for _, param := range slices.Sorted(maps.Keys(u.Query())) {
		if isSession(param) {
			return "query parameter " + param, param
		}
	}
	found := longestFirst(append(ids.within(u.RawQuery), ids.within(u.Path)...))
	if len(found) == 0 {
		return "", ""
	}
	v := found[0]
	if strings.Contains(u.RawQuery, v) {
		return "query string", ids.names[v]
	}
	return "path", ids.names[v]
}

// maskIDsInURL writes a URL for a finding with its session ids masked: known
// session cookie values anywhere, the values of session-named query parameters, and
// the values of parameters with sensitive names (hidden entirely).
func maskIDsInURL(raw string, u *url.URL, ids *idIndex, isSession func(string) bool, redact model.Redaction) string {
	for _, v := range longestFirst(ids.within(raw)) { // a value inside another is masked after it
		raw = strings.ReplaceAll(raw, v, model.Mask(v))
	}
	for param, vals := range u.Query() {
		mask := model.Mask
		switch {
		case isSession(param):
		case redact.Sensitive(param):
			mask = func(string) string { return model.Redacted }
		default:
			continue
		}
		for _, v := range vals {
			if v != "" {
				raw = strings.ReplaceAll(raw, param+"="+url.QueryEscape(v), param+"="+mask(v))
				raw = strings.ReplaceAll(raw, param+"="+v, param+"="+mask(v))
			}
		}
	}
	return raw
}

// longestFirst sorts session values longest first, then in byte order, without
// repeats.
func longestFirst(vs []string) []string {
	slices.SortFunc(vs, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(vs)
}

// idIndex finds which known session values a string contains in one pass over the
// string, whatever the number of values: they are indexed by their last minIDLength
// bytes. Trying every value against every URL made a HAR import quadratic in its
// sessions (16k entries, each with its own id in the URL, took 31 s). The end, not
// the start: values often share a long start (a JWT's header, "s%3A", Laravel's
// "eyJpdiI6") but end in random bytes (a signature, the id itself). A hand-written
// index rather than a multi-pattern library: every value is at least minIDLength
// long, which makes this a map lookup per position.
type idIndex struct {
	names    map[string]string   // value -> cookie name
	bySuffix map[string][]string // last minIDLength bytes -> values
}

func newIDIndex(names map[string]string) *idIndex {
	ix := &idIndex{names: names, bySuffix: make(map[string][]string, len(names))}
	for v := range names {
		k := v[len(v)-minIDLength:]
		ix.bySuffix[k] = append(ix.bySuffix[k], v)
	}
	return ix
}

// within lists the values s contains (with repeats).
func (ix *idIndex) within(s string) []string {
	var found []string
	for end := minIDLength; end <= len(s); end++ {
		for _, v := range ix.bySuffix[s[end-minIDLength:end]] {
			if start := end - len(v); start >= 0 && s[start:end] == v {
				found = append(found, v)
			}
		}
	}
	return found
}
