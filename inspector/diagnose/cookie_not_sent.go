package diagnose

import (
	"fmt"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// cookieNotSent reports a stored session cookie that the browser left out of a later
// page load of the same site: the server sees no session and treats the user as
// logged out. This is the classic "Domain/Path mismatch" — the redirect moved
// the user somewhere the cookie's Domain, Path, Secure or SameSite does not allow.
func cookieNotSent(rs []*replayed, rec *Recorder, cited map[string][]citation) {
	for _, r := range rs {
		if !r.nav {
			continue
		}
		for _, b := range r.blocked {
			c := b.Cookie
			if r.sentHAR[c.Name] || r.sentJar[c.Name] || len(b.Reasons) == 0 {
				// The request carried a session cookie of that name after all.
				continue
			}
			reason := siteReason(b.Reasons[0], r)
			attr, why, fix := notSentText(b.Reasons[0], c, r)
			cause := c.Name + "\x00" + string(reason) + "\x00" + attr
			chromium := string(reason)
			if reason != b.Reasons[0] {
				chromium = fmt.Sprintf("%s; DevTools labels it %s, as it does every SameSite refusal on a plain-http page", reason, b.Reasons[0])
			}
			rec.Report(Report{
				Cause:    cause,
				Severity: model.SeverityError,
				Title:    fmt.Sprintf("The browser did not send the session cookie %s (%s)", c.Name, reason),
				Detail: fmt.Sprintf("The browser holds %s but left it out of the request to %s: %s (Chromium: %s, attribute at fault: %s). "+
					"Without it the server sees a visitor with no session, so the user looks logged out on that page.",
					c.Name, describeURL(r.u), why, chromium, attr),
				Fix:      fix,
				Exchange: r.x.ID,
				Evidence: fmt.Sprintf("%s → %d: %s (%s) not sent: %s", evidencePrefix(r.x), r.x.Status, c.Name, cookieAttrs(c), joinReasons(b.Reasons)),
				Time:     r.x.Start,
			})
			cited[r.x.ID] = append(cited[r.x.ID], citation{
				id:      findingID("cookie-not-sent", cause),
				summary: fmt.Sprintf("cookie-not-sent (%s: %s)", reason, why),
			})
		}
	}
}

func joinReasons(rs []cookies.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

func cookieAttrs(c cookies.Cookie) string {
	var parts []string
	if c.HostOnly {
		parts = append(parts, "host-only "+c.Domain)
	} else {
		parts = append(parts, "Domain="+c.Domain)
	}
	parts = append(parts, "Path="+c.Path)
	if c.Secure {
		parts = append(parts, "Secure")
	}
	if c.SameSite != cookies.SameSiteUnspecified {
		parts = append(parts, "SameSite="+c.SameSite.String())
	}
	return strings.Join(parts, "; ")
}

// notSentText names the attribute at fault, says why in plain words and gives the
// fix for PHP and express-session.
func notSentText(reason cookies.Reason, c cookies.Cookie, r *replayed) (attr, why, fix string) {
	host := r.u.Hostname()
	switch reason {
	case cookies.DomainMismatch:
		if c.HostOnly {
			attr = "Domain (host-only " + c.Domain + ")"
			why = fmt.Sprintf("%s is host-only for %s but the request went to %s", c.Name, c.Domain, host)
		} else {
			attr = "Domain=" + c.Domain
			why = fmt.Sprintf("%s has Domain=%s but the request went to %s", c.Name, c.Domain, host)
		}
		fix = "Serve the app from one host (redirect the others to it), or set the cookie domain to the parent domain every host shares. " +
			"PHP: session_set_cookie_params(['domain' => '.example.com']) before session_start(), or session.cookie_domain = \".example.com\" in php.ini (your parent domain). " +
			"Node (express-session): session({ cookie: { domain: 'example.com' } }). " +
			fmt.Sprintf("Browsers that already hold the old %s (%s) keep it next to the new one and send both, and the server reads the old one first: "+
				"expire it with exactly its old attributes, from %s, while setting the new one (Set-Cookie: %s; PHP: %s, after session_start(), which drops earlier Set-Cookie lines of the session's name), "+
				"or every request carries two %s cookies (see duplicate-cookie).", c.Name, variantText(c), c.Domain, expireLine(c), expireSetcookie(c, "session_name()"), c.Name)
	case cookies.NotOnPath:
		attr = "Path=" + c.Path
		why = fmt.Sprintf("%s has Path=%s but the request went to %s", c.Name, c.Path, r.u.EscapedPath())
		fix = "Give the session cookie the path the whole app lives under, usually /. " +
			"PHP: session_set_cookie_params(['path' => '/']) before session_start(), or session.cookie_path = / in php.ini. " +
			"Node (express-session): session({ cookie: { path: '/' } }). " +
			fmt.Sprintf("Browsers that already hold the old %s (Path=%s) keep it next to the new one and send it first (the longer Path goes first): "+
				"expire it with its old Path (Set-Cookie: %s; PHP: %s, after session_start()).", c.Name, c.Path, expireLine(c), expireSetcookie(c, "session_name()"))
	case cookies.SecureOnly:
		attr = "Secure"
		why = fmt.Sprintf("%s is Secure but the request went over plain http (%s)", c.Name, describeURL(r.u))
		fix = "Serve every page over https and redirect http to https, so no link drops to http. " +
			"PHP: keep session.cookie_secure = 1 and fix the http links/redirects (or session_set_cookie_params(['secure' => false]) only for local http dev). " +
			"Node (express-session): session({ cookie: { secure: 'auto' } }) and redirect http to https."
	case cookies.SameSiteStrict, cookies.SchemefulSameSiteStrict:
		attr = "SameSite=Strict"
		why = fmt.Sprintf("%s is SameSite=Strict and the request to %s came from another site%s", c.Name, describeURL(r.u), fromSite(r))
		fix = "Use SameSite=Lax for the session cookie, so it is sent when the user arrives by a link or a redirect from another site (an identity provider, a mail). " +
			"PHP: session_set_cookie_params(['samesite' => 'Lax']) or session.cookie_samesite = \"Lax\" in php.ini. " +
			"Node (express-session): session({ cookie: { sameSite: 'lax' } })."
	case cookies.SameSiteLax, cookies.SameSiteUnspecifiedTreatedAsLax, cookies.SchemefulSameSiteLax, cookies.SchemefulSameSiteUnspecifiedTreatedAsLax:
		attr = "SameSite=Lax"
		if strings.Contains(string(reason), "Unspecified") {
			attr = "SameSite (not set, treated as Lax)"
		}
		why = fmt.Sprintf("%s is %s and the request to %s was a cross-site %s%s", c.Name, attr, describeURL(r.u), r.x.Method, fromSite(r))
		fix = "If the flow needs the cookie on cross-site POSTs or in frames, use SameSite=None with Secure over https; otherwise keep the flow same-site. " +
			"PHP: session_set_cookie_params(['samesite' => 'None', 'secure' => true]). " +
			"Node (express-session): session({ cookie: { sameSite: 'none', secure: true } })."
	default:
		attr = "cookie attributes"
		why = fmt.Sprintf("%s was blocked (%s)", c.Name, reason)
		fix = "Check the request's Cookies tab in DevTools. " +
			"PHP: set the cookie through session_set_cookie_params([...]). " +
			"Node (express-session): set it through session({ cookie: { ... } })."
	}
	if siteReason(reason, r) != reason {
		return attr, why, fix
	}
	if strings.HasPrefix(string(reason), "Schemeful") {
		why += " (http and https of the same site count as different sites)"
		fix = "Serve the whole site over https: " + fix
	}
	return attr, why, fix
}

// siteReason is the SameSite reason for what actually happened. Chromium names
// every SameSite refusal on a plain-http URL Schemeful*, whatever the sites; the
// Schemeful name is kept only when the request came from the same site over the
// other scheme (http vs https), and is the plain one when it came from another site.
func siteReason(reason cookies.Reason, r *replayed) cookies.Reason {
	var plain cookies.Reason
	switch reason {
	case cookies.SchemefulSameSiteStrict:
		plain = cookies.SameSiteStrict
	case cookies.SchemefulSameSiteLax:
		plain = cookies.SameSiteLax
	case cookies.SchemefulSameSiteUnspecifiedTreatedAsLax:
		plain = cookies.SameSiteUnspecifiedTreatedAsLax
	default:
		return reason
	}
	from := navigationInitiator(r.x)
	if from != nil && cookies.SameSiteURLs(from, r.u, false) {
		return reason // the same site over the other scheme
	}
	return plain
}

// fromSite names the site a request came from, as its Referer tells.
func fromSite(r *replayed) string {
	if from := navigationInitiator(r.x); from != nil {
		return " (" + from.Scheme + "://" + from.Host + ")"
	}
	return ""
}
