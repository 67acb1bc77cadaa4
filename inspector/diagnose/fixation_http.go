package diagnose

import (
	"fmt"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// fixationHTTP reports, from the HTTP side alone (a HAR without the store), a login
// that kept its session id: the black-box test for session fixation (OWASP WSTG
// SESS-03) compares the session cookie before and after authentication. A login POST
// carried a session cookie, its response did not replace it, and the page it led to
// was served, not refused, with the same id: the login holds on an id that existed
// before it.
//
// It stays silent where the HTTP side cannot be sure the session is what
// authenticates: the login's response set another long-lived cookie (a token of its
// own may carry the login), or the cookie values are missing from the capture. With
// the store watched, the store side's fixation rule owns the finding: it sees what
// the session gained.
func fixationHTTP(rs []*replayed, rec *Recorder, lp *loginPages, isSession func(string) bool, opts AnalyzeOptions) {
	if opts.ValuesStripped || opts.CookiesAbsent {
		return
	}
	for i, r := range rs {
		if !strings.EqualFold(r.x.Method, "POST") || !lp.is(r.u) {
			continue
		}
		if _, ok := loginAttempt(r, nil, lp); !ok {
			continue
		}
		kept, ok := keptSessionCookie(r.x, isSession)
		if !ok {
			continue
		}
		landing, held := loginHeld(rs, i, kept, lp)
		if !held {
			continue
		}
		host := strings.ToLower(r.u.Host)
		rec.Report(Report{
			Cause:    host + "\x00" + kept.Name,
			Severity: model.SeverityWarning,
			Title:    "Login without a new session id (session fixation)",
			Detail: fmt.Sprintf("The login POST to %s carried the session cookie %s%s and its response did not replace it; "+
				"%s was then served with the same id. The login holds on an id that existed before it: "+
				"whoever knew that id before the login (planted through a link, a cookie set from a sibling subdomain, or a shared computer) is now logged in as the user. "+
				"Seen from the HTTP side alone: watch the session store to see what the session gained at the login.",
				describeURL(r.u), kept.Name, refSuffix(kept.SessionRef), describeURL(landing.u)),
			Fix:       fixationFix,
			Exchange:  r.x.ID,
			Exchanges: []string{landing.x.ID},
			Evidence: fmt.Sprintf("%s → %d: sent %s, no new one set; %s → %d with the same %s",
				evidencePrefix(r.x), r.x.Status, kept.Name, evidencePrefix(landing.x), landing.x.Status, kept.Name),
			Time: r.x.Start,
		})
	}
}

func refSuffix(ref string) string {
	if ref == "" {
		return ""
	}
	return " (session " + ref + ")"
}

// keptSessionCookie is the session cookie a login request carried and its response
// left in place: no Set-Cookie gave that name another value, and no other
// long-lived cookie was set that could carry the login instead.
func keptSessionCookie(x *model.Exchange, isSession func(string) bool) (model.SentCookie, bool) {
	var kept model.SentCookie
	for _, c := range x.CookiesSent {
		if isSession(c.Name) && c.Value != "" {
			if kept.Name != "" && kept.Name == c.Name {
				return model.SentCookie{}, false // sent twice: duplicate-cookie's case
			}
			kept = c
		}
	}
	if kept.Name == "" {
		return model.SentCookie{}, false
	}
	for _, sc := range x.SetCookies {
		if sc.Name == kept.Name && sc.Value != kept.Value || isSession(sc.Name) && sc.Name != kept.Name {
			return model.SentCookie{}, false // a new id: renewed
		}
		deleted := sc.MaxAge != nil && *sc.MaxAge <= 0 || sc.Expires != nil && sc.Expires.Before(x.Start)
		if !isSession(sc.Name) && len(sc.Value) >= 16 && !deleted {
			return model.SentCookie{}, false // a token of its own may carry the login
		}
	}
	return kept, true
}

// loginHeld follows the page loads after the login rs[i] on its host, through
// redirects, to the first page served: it held when that page was served with the
// kept cookie and did not say "not logged in".
func loginHeld(rs []*replayed, i int, kept model.SentCookie, lp *loginPages) (*replayed, bool) {
	host := strings.ToLower(rs[i].u.Host)
	for j := i + 1; j < len(rs); j++ {
		n := rs[j]
		if !n.nav || strings.ToLower(n.u.Host) != host {
			continue
		}
		if !sentValue(n.x, kept) {
			return nil, false
		}
		if _, no := refused(n, nextNav(rs, j), lp); no || lp.is(n.u) {
			return nil, false
		}
		if n.x.Status >= 300 && n.x.Status < 400 {
			continue
		}
		return n, n.x.Status >= 200 && n.x.Status < 300
	}
	return nil, false
}

func sentValue(x *model.Exchange, c model.SentCookie) bool {
	for _, s := range x.CookiesSent {
		if s.Name == c.Name && s.Value == c.Value {
			return true
		}
	}
	return false
}
