package diagnose

import (
	"fmt"
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
// (seed rule 5: do not append the SID to URLs).
func sessionIDInURL(rs []*replayed, rec *Recorder, isSession func(string) bool) {
	ids := map[string]string{} // cookie value -> cookie name
	for _, r := range rs {
		for _, c := range r.x.CookiesSent {
			if isSession(c.Name) && len(c.Value) >= minIDLength {
				ids[c.Value] = c.Name
			}
		}
		for _, c := range r.x.SetCookies {
			if isSession(c.Name) && len(c.Value) >= minIDLength {
				ids[c.Value] = c.Name
			}
		}
	}
	for _, r := range rs {
		where, name := "", ""
		for param := range r.u.Query() {
			if isSession(param) {
				where, name = "query parameter "+param, param
				break
			}
		}
		if where == "" {
			for v, cookie := range ids {
				switch {
				case strings.Contains(r.u.RawQuery, v):
					where, name = "query string", cookie
				case strings.Contains(r.u.Path, v):
					where, name = "path", cookie
				}
				if where != "" {
					break
				}
			}
		}
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
			Fix: "Carry the session id only in a cookie (seed rule 5). PHP: session.use_only_cookies = 1, session.use_trans_sid = 0 " +
				"and session.use_strict_mode = 1 in php.ini. Node: never put req.sessionID into links or redirects.",
			Exchange: r.x.ID,
			Evidence: fmt.Sprintf("%s %s %s: session id in the %s", r.x.ID, r.x.Method, r.x.URL, where),
			Time:     r.x.Start,
		})
	}
}
