package diagnose

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// noSession reports a login that never got a session: a POST to a login page,
// answered without any session cookie, from a browser that held none, on a host that
// never issued one. The server cannot remember the login, so the user stays logged
// out: on a blank page when the app redirected with a header (PHP could not send it
// either), or back on the login page when it redirected from the page (a script or a
// meta refresh), again and again.
//
// In PHP 7.2 and later this is "headers already sent": output before session_start()
// (a UTF-8 BOM or whitespace before <?php in an included file, an echo) commits the
// headers, and session_start() then refuses to start the session at all: no store
// write and no Set-Cookie. (PHP 7.1 still wrote the session, which the store side
// reports as cookie-missing; an exchange the store side explains is left to it.)
//
// It cites itself for the login POST and for the page loads of that host that
// followed it without a session, so a login loop over them names it as root cause.
func noSession(rs []*replayed, rec *Recorder, cited map[string][]citation, isSession func(string) bool, opts AnalyzeOptions) {
	issuing := map[string]bool{} // hosts that set a session cookie anywhere in the history
	for _, r := range rs {
		for _, sc := range r.x.SetCookies {
			if isSession(sc.Name) {
				issuing[strings.ToLower(r.u.Host)] = true
			}
		}
	}
	for i, r := range rs {
		host := strings.ToLower(r.u.Host)
		if !r.nav || issuing[host] || !loginWithoutSession(r.x, r.u, isSession) ||
			len(r.sentHAR) > 0 || len(r.sentJar) > 0 || len(r.blocked) > 0 {
			continue
		}
		if opts.CookiesAbsent && (r.x.Status < 200 || r.x.Status >= 300) {
			// A HAR without any cookie may be an export that dropped them: a login that
			// redirected as if it worked is not evidence of a missing session there.
			continue
		}
		if opts.StoreCauses != nil && len(opts.StoreCauses(r.x.ID)) > 0 {
			continue // the store saw this request write a session: cookie-missing's case
		}
		reportNoSession(r, rec, opts)
		c := citation{id: findingID("no-session", host),
			summary: "no-session (the login response set no session cookie: the session never started, e.g. output before session_start())"}
		cited[r.x.ID] = append(cited[r.x.ID], c)
		for _, next := range rs[i+1:] {
			if strings.ToLower(next.u.Host) != host || !next.nav {
				continue
			}
			if len(next.sentHAR) > 0 || len(next.sentJar) > 0 {
				break
			}
			cited[next.x.ID] = append(cited[next.x.ID], c)
		}
		return // one login explains the host's later ones
	}
}

// loginWithoutSession reports an exchange the no-session rule looks at: a POST to a
// login-like path, answered 2xx or 3xx (a refused login answers 4xx), that carried no
// session cookie and got none. The live step replays such an exchange at once.
func loginWithoutSession(x *model.Exchange, u *url.URL, isSession func(string) bool) bool {
	if !strings.EqualFold(x.Method, "POST") || !loginPath.MatchString(u.Path) || x.Status < 200 || x.Status >= 400 {
		return false
	}
	for _, c := range x.CookiesSent {
		if isSession(c.Name) {
			return false
		}
	}
	for _, sc := range x.SetCookies {
		if isSession(sc.Name) {
			return false
		}
	}
	return true
}

func reportNoSession(r *replayed, rec *Recorder, opts AnalyzeOptions) {
	x := r.x
	outcome := fmt.Sprintf("answered %d", x.Status)
	switch {
	case x.Status >= 300:
		outcome += " with a redirect to " + x.Location + ", but the browser arrives there without a session and is logged out"
	default:
		outcome += " without a redirect: if the app meant to redirect with a Location header, that header could not be sent either, " +
			"so the user is left on a blank or half-rendered page; if it redirects from the page (a script or a meta refresh), " +
			"the next page sees no session and sends the user back to log in"
	}
	detail := fmt.Sprintf("The login POST to %s carried no session cookie and its response set none (%s). "+
		"No request to %s ever received a session cookie, so the server has nowhere to remember the login: "+
		"the session was never started, or it failed to start. "+
		"In PHP 7.2 and later the usual cause is output before session_start() (\"headers already sent\"): a UTF-8 BOM or whitespace before <?php "+
		"in an included file, or an echo, commits the headers, and session_start() then refuses to start the session: nothing is written to the store "+
		"and no Set-Cookie goes out. This happens when output_buffering is off (0, PHP's default without a php.ini). "+
		"Sessions must be created by the server and handed to the browser in a cookie before anything else is sent (OWASP Session Management Cheat Sheet: session ID life cycle).",
		describeURL(r.u), outcome, r.u.Host)
	severity := model.SeverityError
	if opts.CookiesAbsent {
		// The HAR alone cannot tell an app that set no cookie from an export that
		// dropped every cookie.
		severity = model.SeverityWarning
		detail += " This HAR holds no cookie at all: if it was exported with sensitive data (or written by sessionscope's proxy), the app set none; " +
			"a sanitized export drops cookies too, so export it again with sensitive data to be sure."
	}
	rec.Report(Report{
		Cause:    strings.ToLower(r.u.Host),
		Severity: severity,
		Title:    "Login without a session: the response set no session cookie",
		Detail:   detail,
		Fix: "Start the session before any output. PHP: remove the BOM (save the file as UTF-8 without BOM) and any whitespace before <?php or after ?> " +
			"in every included file, move echo/print after session_start(), and check that session_start() returns true; " +
			"headers_sent($file, $line) names the file and line that sent output first, and PHP's warning \"Session cannot be started after headers have already been sent\" is in the error log. " +
			"output_buffering = 4096 in php.ini (or ob_start() at the entry point) hides the symptom but not the stray output. " +
			"Node (express-session): register the session middleware before any route writes, and check that the store is reachable.",
		Exchange: x.ID,
		Evidence: strings.TrimSpace(fmt.Sprintf("%s → %d %s", evidencePrefix(x), x.Status, x.Location)) + ": no session cookie sent, none set",
		Time:     x.Start,
	})
}

// hasFindingOf reports whether a rule has reported anything on this engine.
func (e *Engine) hasFindingOf(rule string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.findings {
		if f.Rule == rule {
			return true
		}
	}
	return false
}
