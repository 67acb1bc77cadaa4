package diagnose

import (
	"fmt"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// cookieFlags reports a session Set-Cookie that lacks the attributes a
// session cookie needs — HttpOnly, Secure, an explicit SameSite (the usual fix sets all
// three) — or whose Domain is a parent domain, which hands the session id to every
// subdomain — unless the capture shows the cookie going to another
// subdomain, which is then the point (the subdomain-to-root fix of a login loop). One
// finding per host, cookie name and set of faults.
func cookieFlags(rs []*replayed, rec *Recorder, isSession func(string) bool) {
	hosts := map[string]map[string]bool{} // session cookie name -> hosts it was sent to
	for _, r := range rs {
		for name := range r.sentJar {
			if hosts[name] == nil {
				hosts[name] = map[string]bool{}
			}
			hosts[name][strings.ToLower(r.u.Hostname())] = true
		}
	}
	type texts struct {
		title, detail, fix string
		sev                model.Severity
		n                  int
	}
	seen := map[string]*texts{} // by cause: a history repeats the same cookie
	for _, r := range rs {
		for _, sc := range r.x.SetCookies {
			if !isSession(sc.Name) || sc.ParseError != "" || isDeletion(sc, r) {
				continue
			}
			faults := flagFaults(sc, r, hosts[sc.Name])
			if len(faults) == 0 {
				continue
			}
			names := make([]string, len(faults))
			for i, f := range faults {
				names[i] = f.attr
			}
			cause := r.u.Hostname() + "\x00" + sc.Name + "\x00" + strings.Join(names, ",")
			t := seen[cause]
			if t == nil {
				t = &texts{sev: model.SeverityInfo, title: flagsTitle(sc, faults), fix: flagsFix(faults)}
				why := make([]string, len(faults))
				for i, f := range faults {
					why[i] = f.why
					if f.severity.Rank() > t.sev.Rank() {
						t.sev = f.severity
					}
				}
				t.detail = fmt.Sprintf("%s sets the session cookie %s (%s). ", describeURL(r.u), sc.Name, setCookieAttrs(sc)) + strings.Join(why, " ")
				seen[cause] = t
			}
			t.n++
			evidence := ""
			if t.n <= maxEvidence {
				evidence = fmt.Sprintf("%s → %d: Set-Cookie %s (%s): %s", evidencePrefix(r.x), r.x.Status, sc.Name, setCookieAttrs(sc), strings.Join(names, ", "))
			}
			rec.Report(Report{
				Cause:    cause,
				Severity: t.sev,
				Title:    t.title,
				Detail:   t.detail,
				Fix:      t.fix,
				Session:  sc.SessionRef,
				Exchange: r.x.ID,
				Evidence: evidence,
				Time:     r.x.Start,
			})
		}
	}
}

// flagFault is one attribute at fault.
type flagFault struct {
	attr     string // HttpOnly, Secure, SameSite, Domain
	kind     string // for Secure: "https", "localhost" or "http"
	domain   string // for Domain: the parent domain
	severity model.Severity
	why      string
}

func flagFaults(sc model.SetCookie, r *replayed, sentTo map[string]bool) []flagFault {
	var out []flagFault
	if !sc.HTTPOnly {
		out = append(out, flagFault{attr: "HttpOnly", severity: model.SeverityWarning,
			why: "Without HttpOnly, scripts on the page can read it (document.cookie), so one XSS hole is enough to steal the session id and take over the session (OWASP Session Management Cheat Sheet: HttpOnly)."})
	}
	// A framework that will not issue a Secure cookie on a plain-http request leaves
	// a localhost dev setup nothing to do about it.
	if !sc.Secure && !(cookies.IsLocalhost(r.u.Hostname()) && !strings.EqualFold(r.u.Scheme, "https") && refusesSecureOverHTTP(sc)) {
		f := flagFault{attr: "Secure"}
		switch {
		case strings.EqualFold(r.u.Scheme, "https"):
			f.kind, f.severity = "https", model.SeverityWarning
			f.why = "Without Secure, the browser also sends it over plain http: a single http link or redirect, or a request a network attacker provokes, " +
				"carries the id in clear text although the site itself uses https (OWASP Session Management Cheat Sheet: Secure)."
		case cookies.IsLocalhost(r.u.Hostname()):
			f.kind, f.severity = "localhost", model.SeverityInfo
			f.why = "It is not Secure. Browsers refuse Secure cookies over plain http except from localhost, which they count as a secure context: " +
				"this dev setup can already mark it Secure, so development runs with the same cookie as production."
		default:
			f.kind, f.severity = "http", model.SeverityInfo
			f.why = "It is not Secure, and cannot be yet: the site is served over plain http, where browsers refuse Secure cookies (only localhost is exempt), " +
				"so the id travels in clear text with every request. Serve the site over https, then mark the cookie Secure."
		}
		out = append(out, f)
	}
	if sc.SameSite == "" {
		out = append(out, flagFault{attr: "SameSite", severity: model.SeverityInfo,
			why: "Without SameSite, browsers disagree about cross-site requests: Chrome treats it as Lax (and still sends it on top-level cross-site POSTs for two minutes), " +
				"other browsers may send it with every cross-site request, which invites CSRF. Setting it explicitly (Lax) makes redirects behave the same in every browser."})
	}
	if d := strings.TrimPrefix(strings.ToLower(sc.Domain), "."); d != "" {
		h := strings.ToLower(r.u.Hostname())
		shared := false
		for other := range sentTo {
			shared = shared || other != h && (other == d || strings.HasSuffix(other, "."+d))
		}
		if h != d && strings.HasSuffix(h, "."+d) && !shared {
			out = append(out, flagFault{attr: "Domain", domain: d, severity: model.SeverityInfo,
				why: fmt.Sprintf("Domain=%s sends it to %s and every subdomain of it, not only to %s: any of those hosts (a forgotten staging site, "+
					"a user-content subdomain) receives the session id and can also set a cookie of the same name to fix a session (OWASP Session Management Cheat Sheet: Domain and Path). "+
					"Keep it host-only unless the session really must span subdomains.", sc.Domain, d, h)})
		}
	}
	return out
}

func flagsTitle(sc model.SetCookie, faults []flagFault) string {
	var missing []string
	domain := ""
	for _, f := range faults {
		if f.attr == "Domain" {
			domain = f.domain
		} else {
			missing = append(missing, f.attr)
		}
	}
	switch {
	case len(missing) > 0 && domain != "":
		return fmt.Sprintf("Session cookie %s is set without %s, and Domain=%s shares it with every subdomain", sc.Name, quoteList(missing), domain)
	case domain != "":
		return fmt.Sprintf("Session cookie %s is shared with every subdomain of %s", sc.Name, domain)
	}
	return fmt.Sprintf("Session cookie %s is set without %s", sc.Name, quoteList(missing))
}

// flagsFix gives the PHP and express-session settings for exactly the faults found.
func flagsFix(faults []flagFault) string {
	var params, ini, node, notes []string
	for _, f := range faults {
		switch f.attr {
		case "HttpOnly":
			params = append(params, "'httponly' => true")
			ini = append(ini, "session.cookie_httponly = 1")
			node = append(node, "httpOnly: true")
		case "Secure":
			if f.kind == "http" {
				notes = append(notes, "Serve the site over https first (redirect http to https); then mark the cookie Secure.")
			}
			params = append(params, "'secure' => true")
			ini = append(ini, "session.cookie_secure = 1")
			node = append(node, "secure: true")
		case "SameSite":
			params = append(params, "'samesite' => 'Lax'")
			ini = append(ini, "session.cookie_samesite = \"Lax\"")
			node = append(node, "sameSite: 'lax'")
		case "Domain":
			params = append(params, "'domain' => ''")
			ini = append(ini, "session.cookie_domain = \"\"")
		}
	}
	fix := strings.Join(notes, " ")
	if fix != "" {
		fix += " "
	}
	fix += fmt.Sprintf("PHP: session_set_cookie_params([%s]) before session_start(), or in php.ini %s. ",
		strings.Join(params, ", "), strings.Join(ini, ", "))
	n := "Node (express-session): session({ cookie: { " + strings.Join(node, ", ") + " } })"
	for _, f := range faults {
		switch f.attr {
		case "Domain":
			if len(node) == 0 {
				n = "Node (express-session): session({ cookie: { ... } })"
			}
			n += " without the cookie.domain option"
		case "HttpOnly":
			n += " (httpOnly is express-session's default: something turned it off)"
		case "Secure":
			n += "; behind a proxy that ends TLS also app.set('trust proxy', 1), or express-session will not send a Secure cookie"
		}
	}
	return fix + n + "."
}

// isDeletion: an expired or emptied cookie (a logout) carries no id to protect.
func isDeletion(sc model.SetCookie, r *replayed) bool {
	return sc.Value == "" || sc.MaxAge != nil && *sc.MaxAge == 0 || sc.Expires != nil && sc.Expires.Before(r.x.Start)
}

// setCookieAttrs describes a Set-Cookie's attributes without its value.
func setCookieAttrs(sc model.SetCookie) string {
	var parts []string
	if sc.Domain != "" {
		parts = append(parts, "Domain="+sc.Domain)
	} else {
		parts = append(parts, "host-only")
	}
	if sc.Path != "" {
		parts = append(parts, "Path="+sc.Path)
	}
	if sc.Secure {
		parts = append(parts, "Secure")
	}
	if sc.HTTPOnly {
		parts = append(parts, "HttpOnly")
	}
	if sc.SameSite != "" {
		parts = append(parts, "SameSite="+sc.SameSite)
	}
	return strings.Join(parts, "; ")
}

// refusesSecureOverHTTP reports whether the cookie's framework declines to send a
// Secure session cookie in answer to a plain-http request: Rack::Session (Rails) and
// express-session check the request's scheme, and with secure set they send no
// cookie at all over http, localhost included. Advising Secure there would break the
// dev setup it is meant to improve.
func refusesSecureOverHTTP(sc model.SetCookie) bool {
	cs, ok := framework.SessionFromCookie(sc.Name, sc.Value, nil)
	return ok && (cs.Framework == "rails" || cs.Framework == "express")
}
