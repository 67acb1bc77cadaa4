package diagnose

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// A browser keys a cookie by name, Domain and Path: two Set-Cookie lines with one
// name but another Domain or Path make two cookies, and a line that expires one of
// them leaves the other alone. duplicateCookie follows the session cookies through
// a jar of its own (the replay's jar does not say where a cookie came from) to report
// both faces of that rule:
//
//   - duplicate-cookie: a request that carried one session cookie name more than
//     once. The server reads one of them (PHP and Express keep the first; Chromium
//     sends the longer Path first, then the older), so whatever the app writes into
//     the other is never read back: a login that does not stick.
//   - cookie-not-cleared: a logout response that expired a session cookie with a
//     Domain or Path other than the cookie the browser holds, so the browser keeps it
//     and the user stays logged in.

// heldCookie is a session cookie of the rule's jar and where it came from.
type heldCookie struct {
	c      cookies.Cookie
	setBy  string // the exchange whose response set it
	origin string // scheme://host/path of that response
	host   string // its host, to tell a sibling subdomain's cookie from the app's own
}

// logoutPath matches the paths logouts usually live at. Elsewhere an expiry that
// matches nothing is routine: an app that expires a stale cookie on every response
// (the fix duplicate-cookie gives) clears nothing once the browser is clean.
var logoutPath = regexp.MustCompile(`(?i)(log-?out|sign-?out|log-?off|sign-?off|end-?session)`)

func variantKey(c cookies.Cookie) string {
	return fmt.Sprintf("%s\x00%s\x00%t\x00%s", c.Name, strings.ToLower(c.Domain), c.HostOnly, c.Path)
}

// variantText names a cookie by what tells it from its namesakes.
func variantText(c cookies.Cookie) string {
	if c.HostOnly {
		return fmt.Sprintf("host-only %s; Path=%s", c.Domain, c.Path)
	}
	return fmt.Sprintf("Domain=%s; Path=%s", c.Domain, c.Path)
}

// sentTwice reports whether the request carried a session cookie name more than once.
func sentTwice(x *model.Exchange, isSession func(string) bool) bool {
	seen := map[string]bool{}
	for _, c := range x.CookiesSent {
		if !isSession(c.Name) {
			continue
		}
		if seen[c.Name] {
			return true
		}
		seen[c.Name] = true
	}
	return false
}

func duplicateCookie(rs []*replayed, rec *Recorder, cited map[string][]citation, isSession func(string) bool) {
	notCleared := &Recorder{e: rec.e, rule: "cookie-not-cleared"}
	jar := newReplayJar()
	origins := map[string]heldCookie{}
	current := map[string]string{} // by host and name: the variant the app's last Set-Cookie there made
	for _, r := range rs {
		// The app's own responses set cookies with a context that allows them; the
		// replay's jar already refused what a browser refuses (sc.Reason).
		ctx := cookies.Context{URL: r.u, Method: "GET", TopLevelNav: true, Now: r.x.Start}
		sent, _ := jar.Send(ctx)
		byName := map[string][]heldCookie{}
		for _, c := range sent {
			if isSession(c.Name) {
				h := origins[variantKey(c)]
				h.c = c
				byName[c.Name] = append(byName[c.Name], h)
			}
		}
		reportDuplicates(r, rec, cited, isSession, byName, current)
		type miss struct {
			sc *model.SetCookie
			v  cookies.Verdict
		}
		var misses []miss
		for i := range r.x.SetCookies {
			sc := &r.x.SetCookies[i]
			if !isSession(sc.Name) || sc.Reason != "" || sc.Stored == nil {
				continue
			}
			line := sc.Raw
			if line == "" {
				line = sc.Line()
			}
			v := jar.Store(ctx, line)
			switch {
			case v.Stored:
				key := variantKey(v.Cookie)
				origins[key] = heldCookie{c: v.Cookie, setBy: r.x.ID, origin: describeURL(r.u), host: strings.ToLower(r.u.Hostname())}
				current[strings.ToLower(r.u.Hostname())+"\x00"+sc.Name] = key
			case v.Deleted:
				delete(origins, variantKey(v.Cookie))
			case len(v.Reasons) == 0 && v.Cookie.Expired(r.x.Start) && len(byName[sc.Name]) > 0 && logoutPath.MatchString(r.u.Path):
				misses = append(misses, miss{sc, v})
			}
		}
		// An expiry that matched nothing is a mistake only if the browser still holds
		// what the request carried once the whole response is applied: another line
		// may have cleared or replaced it.
		for _, m := range misses {
			if kept := stillHeld(jar, ctx, byName[m.sc.Name]); len(kept) > 0 {
				reportNotCleared(r, notCleared, m.sc, m.v, kept)
			}
		}
	}
}

// stillHeld returns the cookies of sent that the jar still holds with the same value.
func stillHeld(jar *replayJar, ctx cookies.Context, sent []heldCookie) []heldCookie {
	now, _ := jar.Send(ctx)
	var kept []heldCookie
	for _, h := range sent {
		for _, c := range now {
			if variantKey(c) == variantKey(h.c) && c.Value == h.c.Value {
				kept = append(kept, h)
				break
			}
		}
	}
	return kept
}

// reportDuplicates reports each session cookie name r's request carried more than
// once, when the response shows the server did not find its session in the one it
// read: it handed out a new id, refused the request, or sent it to a login page.
// An app that looks through every cookie of the name (or reads the right one) copes
// with the duplicate, and then there is nothing to report.
func reportDuplicates(r *replayed, rec *Recorder, cited map[string][]citation, isSession func(string) bool,
	held map[string][]heldCookie, current map[string]string) {
	counts := map[string]int{}
	refs := map[string][]string{}
	values := map[string][]string{}
	for _, c := range r.x.CookiesSent {
		if isSession(c.Name) {
			counts[c.Name]++
			refs[c.Name] = append(refs[c.Name], c.SessionRef)
			values[c.Name] = append(values[c.Name], c.Value)
		}
	}
	names := make([]string, 0, len(counts))
	for n, k := range counts {
		if k > 1 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	host := strings.ToLower(r.u.Hostname())
	for _, name := range names {
		lost := sessionLost(r, name, values[name])
		if lost == "" {
			continue
		}
		hs := held[name]
		if len(hs) != counts[name] {
			hs = nil // the jar does not know them all (a window that starts later): say what the request shows
		}
		var variants, parts []string
		for i, h := range hs {
			variants = append(variants, variantText(h.c))
			p := "[" + variantText(h.c)
			if h.setBy != "" {
				p += ", set by " + h.origin + " (" + h.setBy + ")"
			}
			if ref := refs[name][i]; ref != "" {
				p += ", session " + ref
			}
			parts = append(parts, p+"]")
		}
		sort.Strings(variants)
		cause := name + "\x00" + host + "\x00" + strings.Join(variants, "\x00")
		first := "the first one"
		if len(hs) > 0 {
			first = "the first one, " + variantText(hs[0].c)
		}
		if ref := refs[name][0]; ref != "" {
			first += " (session " + ref + ")"
		}
		detail := fmt.Sprintf("The request to %s carried %d cookies named %s", describeURL(r.u), counts[name], name)
		if len(parts) > 0 {
			detail += ": " + strings.Join(parts, ", ")
		}
		detail += fmt.Sprintf(". A browser keys cookies by name, Domain and Path, so these are different cookies and it sends them all, the longer Path first, then the older. "+
			"The server reads one of them (PHP and Express keep the first: here %s), and it did not find its session there: %s. "+
			"Whatever the app writes into the other (the session a login starts) is never read back, so the user is logged out again on the next request, a login loop that no retry ends.", first, lost)
		var stale []heldCookie
		cur := current[host+"\x00"+name]
		for _, h := range hs {
			if variantKey(h.c) != cur {
				stale = append(stale, h)
			}
		}
		tossed := ""
		for _, h := range hs {
			if h.host != "" && h.host != host && !h.c.HostOnly {
				tossed = h.host
				detail += fmt.Sprintf(" The %s cookie was set by another host, %s, for the whole domain: a sibling subdomain can plant (toss) a session cookie this way.", variantText(h.c), h.host)
			}
		}
		rec.Report(Report{
			Cause:    cause,
			Severity: model.SeverityError,
			Title:    fmt.Sprintf("The browser sent %d %s cookies: the server reads one, the app writes another", counts[name], name),
			Detail:   detail,
			Fix:      duplicateFix(name, stale, tossed),
			Session:  refs[name][0],
			Exchange: r.x.ID,
			Evidence: fmt.Sprintf("%s → %d: Cookie carried %s %d times%s; %s", evidencePrefix(r.x), r.x.Status, name, counts[name], evidenceVariants(parts), lost),
			Time:     r.x.Start,
		})
		cited[r.x.ID] = append(cited[r.x.ID], citation{
			id:      findingID(rec.rule, cause),
			summary: fmt.Sprintf("duplicate-cookie (%s sent %d times; the server reads %s and finds no session there)", name, counts[name], first),
		})
	}
}

// sessionLost says how r's response shows that the server found no session in the
// cookie it read, or "" when it does not.
func sessionLost(r *replayed, name string, sent []string) string {
	for _, sc := range r.x.SetCookies {
		if sc.Name != name || sc.Value == "" || sc.MaxAge != nil && *sc.MaxAge <= 0 || sc.Expires != nil && sc.Expires.Before(r.x.Start) {
			continue
		}
		known := false
		for _, v := range sent {
			known = known || v == sc.Value
		}
		if !known && !r.x.ValuesStripped {
			return "the response handed out a new " + name
		}
	}
	switch {
	case r.x.Status == 401 || r.x.Status == 403:
		return fmt.Sprintf("the response refused it (%d)", r.x.Status)
	case r.x.Status >= 300 && r.x.Status < 400 && r.x.RawLocation != "":
		if t, err := r.u.Parse(r.x.RawLocation); err == nil && loginPath.MatchString(t.Path) && !strings.EqualFold(r.x.Method, "POST") {
			return "the response sent the browser to " + describeURL(t)
		}
	}
	return ""
}

func evidenceVariants(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, " then ")
}

// duplicateFix says how to expire each stale cookie: with exactly its own Domain and
// Path, from a host it applies to, or the browser keeps it.
func duplicateFix(name string, stale []heldCookie, tossed string) string {
	var b strings.Builder
	if len(stale) == 0 {
		b.WriteString(fmt.Sprintf("Expire the %s cookie you no longer set with exactly its old Domain and Path (a host-only cookie: no Domain attribute at all); a Set-Cookie with other attributes makes or clears a different cookie. ", name))
	} else {
		b.WriteString("Expire the stale cookie with exactly its old Domain and Path; a Set-Cookie with other attributes makes or clears a different cookie. ")
		for _, h := range stale {
			b.WriteString(fmt.Sprintf("For %s: Set-Cookie: %s; PHP: %s; Node (express): %s. ",
				variantText(h.c), expireLine(h.c), expireSetcookie(h.c, "'"+name+"'"), expireClearCookie(h.c)))
		}
	}
	b.WriteString("Send it from the app's responses for as long as browsers may still hold the old cookie, and move a session that arrived in it to a fresh id (session_regenerate_id(true)). " +
		"In PHP the expiry must come after session_start() and session_regenerate_id(), which drop every Set-Cookie line of the session's name sent before them: " +
		"register it with header_register_callback(function () { setcookie(...); }) so it goes out with the headers.")
	if tossed != "" {
		b.WriteString(fmt.Sprintf(" Against a sibling subdomain (%s) planting the cookie: name the session cookie with the __Host- prefix, which only the app's own host can set (Secure, Path=/, no Domain): "+
			"PHP: session_name('__Host-PHPSESSID'); session_set_cookie_params(['secure' => true, 'path' => '/', 'domain' => '']); "+
			"Node (express-session): session({ name: '__Host-sid', cookie: { secure: true, path: '/' } }) (OWASP Session Management Cheat Sheet: Domain and Path attributes).", tossed))
	}
	return b.String()
}

// expireLine is the Set-Cookie line that removes c from a browser.
func expireLine(c cookies.Cookie) string {
	s := c.Name + "=; Path=" + c.Path
	if !c.HostOnly {
		s += "; Domain=" + c.Domain
	}
	if c.Secure {
		s += "; Secure"
	}
	return s + "; Max-Age=0"
}

// expireSetcookie is PHP's setcookie() call that removes c; name is a PHP expression.
func expireSetcookie(c cookies.Cookie, name string) string {
	opts := fmt.Sprintf("'expires' => 1, 'path' => '%s'", c.Path)
	if !c.HostOnly {
		opts += fmt.Sprintf(", 'domain' => '%s'", c.Domain)
	}
	if c.Secure {
		opts += ", 'secure' => true"
	}
	return fmt.Sprintf("setcookie(%s, '', [%s])", name, opts)
}

// expireClearCookie is Express's res.clearCookie call that removes c.
func expireClearCookie(c cookies.Cookie) string {
	opts := fmt.Sprintf("path: '%s'", c.Path)
	if !c.HostOnly {
		opts += fmt.Sprintf(", domain: '%s'", c.Domain)
	}
	return fmt.Sprintf("res.clearCookie('%s', { %s })", c.Name, opts)
}

// reportNotCleared reports a response that expired a session cookie the browser does
// not hold under those attributes, while it holds (and sent) one of that name.
func reportNotCleared(r *replayed, rec *Recorder, sc *model.SetCookie, v cookies.Verdict, held []heldCookie) {
	h := held[0]
	var kept []string
	for _, k := range held {
		kept = append(kept, variantText(k.c))
	}
	line := expireLine(v.Cookie)
	rec.Report(Report{
		Cause:    sc.Name + "\x00" + variantText(v.Cookie) + "\x00" + strings.Join(kept, "\x00"),
		Severity: model.SeverityError,
		Title:    fmt.Sprintf("The response tried to clear %s but the browser kept it (Domain/Path differ)", sc.Name),
		Detail: fmt.Sprintf("The response to %s expired %s with %s, but the browser holds %s as %s: a cookie is known by its name, Domain and Path, "+
			"so the expiry names a cookie the browser does not have and clears nothing. The browser keeps sending the old %s; "+
			"if the session behind it is still in the store, the user is still logged in after logging out (OWASP Session Management Cheat Sheet: manual session expiration; ASVS V3.3.1).",
			describeURL(r.u), sc.Name, variantText(v.Cookie), sc.Name, strings.Join(kept, " and "), sc.Name),
		Fix: fmt.Sprintf("Expire the cookie with the Domain and Path it was set with: Set-Cookie: %s. "+
			"PHP: $p = session_get_cookie_params(); setcookie(session_name(), '', ['expires' => 1, 'path' => $p['path'], 'domain' => $p['domain'], 'secure' => $p['secure'], 'httponly' => $p['httponly'], 'samesite' => $p['samesite']]); here %s; and destroy the session first (session_destroy()). "+
			"Node (express-session): req.session.destroy(() => %s).",
			expireLine(h.c), expireSetcookie(h.c, "session_name()"), expireClearCookie(h.c)),
		Session:  sc.SessionRef,
		Exchange: r.x.ID,
		Evidence: fmt.Sprintf("%s → %d: Set-Cookie %s (%s) cleared nothing; the browser holds %s", evidencePrefix(r.x), r.x.Status, line, variantText(v.Cookie), strings.Join(kept, " and ")),
		Time:     r.x.Start,
	})
}
