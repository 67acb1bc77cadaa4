package diagnose

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// loginPath matches the paths login forms usually post to.
var loginPath = regexp.MustCompile(`(?i)(log-?in|sign-?in|auth|session)`)

// loginPages tells the login page(s) of a capture: what --login-path names, what
// the loginPath heuristic matches, pages served with a login form (a password
// input), and pages a login was posted from.
type loginPages struct {
	patterns []string        // --login-path: a path or a path.Match pattern
	seen     map[string]bool // by pageKey: served a login form, or a login was posted from it
}

func newLoginPages(rs []*replayed, patterns []string) *loginPages {
	lp := &loginPages{patterns: patterns, seen: map[string]bool{}}
	for _, r := range rs {
		if r.x.LoginForm {
			lp.seen[pageKey(r.u)] = true
		}
	}
	for _, r := range rs {
		if strings.EqualFold(r.x.Method, "POST") && lp.named(r.u) && r.x.RawReferer != "" {
			if ref, err := url.Parse(r.x.RawReferer); err == nil && ref.Host != "" {
				lp.seen[pageKey(ref)] = true
			}
		}
	}
	return lp
}

// named reports a URL --login-path or the heuristic names a login page.
func (lp *loginPages) named(u *url.URL) bool {
	for _, p := range lp.patterns {
		if p == u.Path {
			return true
		}
		if ok, _ := path.Match(p, u.Path); ok {
			return true
		}
	}
	return len(lp.patterns) == 0 && loginPath.MatchString(u.Path)
}

// is reports a login page.
func (lp *loginPages) is(u *url.URL) bool {
	return lp.named(u) || lp.seen[pageKey(u)]
}

// pageKey is what makes two requests the same page: host and path (the query of a
// protected page carries return URLs, codes and states that change every time).
func pageKey(u *url.URL) string { return strings.ToLower(u.Host) + u.EscapedPath() }

// refusal is how a page load said "not logged in".
type refusal struct {
	how  string // in words, for the finding
	sig  string // the same refusal again has the same sig
	weak bool   // a redirect to a page not known as the login page
}

// refused tells whether a page load was answered "not logged in": a redirect to the
// login page (by a 3xx, or by the page itself: a script or a meta refresh, seen in
// its body, and next, the page load that followed, coming from it to the login
// page), a 401 or 403, the login form served in place of the page, or (the weakest
// sign) a redirect away from the page.
func refused(r, next *replayed, lp *loginPages) (refusal, bool) {
	x := r.x
	switch {
	case x.ClientRedirect && x.Status >= 200 && x.Status < 300 && !lp.seen[pageKey(r.u)] && sentOnTo(r, next, lp):
		return refusal{how: "the page sent the browser to the login page " + describeURL(next.u) + " by itself (a script or a meta refresh)",
			sig: "redirect\x00" + pageKey(next.u)}, true
	case x.Status >= 300 && x.Status < 400 && x.RawLocation != "":
		t, err := r.u.Parse(x.RawLocation)
		if err != nil || pageKey(t) == pageKey(r.u) || lp.seen[pageKey(r.u)] {
			return refusal{}, false // a login page's own redirects are its business
		}
		if lp.is(t) {
			return refusal{how: "a redirect to the login page " + describeURL(t), sig: "redirect\x00" + pageKey(t)}, true
		}
		return refusal{how: "a redirect away from it, to " + describeURL(t), sig: "redirect\x00" + pageKey(t), weak: true}, true
	case x.Status == 401 || x.Status == 403:
		return refusal{how: fmt.Sprintf("a %d", x.Status), sig: fmt.Sprint(x.Status)}, true
	case x.LoginForm && x.Status >= 200 && x.Status < 300:
		return refusal{how: "the login form (a page with a password input) served in place of the page", sig: "form"}, true
	}
	return refusal{}, false
}

// sentOnTo reports that next, the page load after r, is r sending the browser to a
// login page by itself: a GET of a login page that came from r (its Referer, when
// the browser sent one, is r).
func sentOnTo(r, next *replayed, lp *loginPages) bool {
	if next == nil || !strings.EqualFold(next.x.Method, "GET") || !lp.is(next.u) || pageKey(next.u) == pageKey(r.u) {
		return false
	}
	if next.x.RawReferer == "" {
		return true
	}
	ref, err := url.Parse(next.x.RawReferer)
	return err == nil && pageKey(ref) == pageKey(r.u)
}

// nextNav is the page load after rs[i], or nil.
func nextNav(rs []*replayed, i int) *replayed {
	for _, n := range rs[i+1:] {
		if n.nav {
			return n
		}
	}
	return nil
}

// passesOn reports a redirect (rs[i]) whose target, the next page load, refused
// the user itself: the redirect only passed the browser on (a single sign-on
// callback to the page it protects), the page after it is the one that refused.
func passesOn(rs []*replayed, i int, lp *loginPages) bool {
	t, err := rs[i].u.Parse(rs[i].x.RawLocation)
	if err != nil {
		return false
	}
	for j, n := range rs[i+1:] {
		if !n.nav {
			continue
		}
		if pageKey(n.u) != pageKey(t) {
			return false
		}
		ref, ok := refused(n, nextNav(rs, i+1+j), lp)
		if !ok {
			return false
		}
		if !ref.weak {
			return true
		}
		if t, err = n.u.Parse(n.x.RawLocation); err != nil {
			return false
		}
	}
	return false
}

// loginAttempt reports a request that tried to log in and was not turned down on
// the spot: a POST to a login page, or one that set a session cookie, or a
// navigation the login page of another site redirected back to (single sign-on's
// callback). It returns how the login went on, in words.
func loginAttempt(r, prevNav *replayed, lp *loginPages) (string, bool) {
	x := r.x
	if x.Status == 401 || x.Status == 403 || x.LoginForm || x.Status >= 400 {
		return "", false // turned down: a wrong password, not a loop
	}
	if x.Status >= 300 && x.Status < 400 && x.RawLocation != "" {
		if t, err := r.u.Parse(x.RawLocation); err == nil && lp.is(t) && pageKey(t) != pageKey(r.u) && t.Host == r.u.Host {
			return "", false // sent back to its own login page: turned down
		}
	}
	post := strings.EqualFold(x.Method, "POST")
	if post && (lp.is(r.u) || len(r.issued) > 0 || len(r.rejected) > 0) {
		switch {
		case !r.nav:
			return fmt.Sprintf("a script's login request (XHR/fetch) %s %s answered %d, then a page load", x.Method, describeURL(r.u), x.Status), true
		case x.Status >= 300 && x.Status < 400:
			return fmt.Sprintf("the login %s %s answered %d (a redirect)", x.Method, describeURL(r.u), x.Status), true
		default:
			return fmt.Sprintf("the login %s %s answered %d and the page moved on by itself (a script or a meta refresh)", x.Method, describeURL(r.u), x.Status), true
		}
	}
	if r.nav && prevNav != nil && prevNav.u.Host != r.u.Host && lp.is(prevNav.u) && strings.EqualFold(prevNav.x.Method, "GET") &&
		prevNav.x.Status >= 300 && prevNav.x.Status < 400 && prevNav.x.RawLocation != "" {
		if t, err := prevNav.u.Parse(prevNav.x.RawLocation); err == nil && pageKey(t) == pageKey(r.u) {
			return fmt.Sprintf("the login page %s sent the browser back to %s (a single sign-on round trip)", describeURL(prevNav.u), describeURL(r.u)), true
		}
	}
	return "", false
}

// loopStep is one time the loop went round: a login attempt, then the page answered
// "not logged in" again.
type loopStep struct {
	to      int // rs index of the refusal
	attempt int // rs index of the last login attempt before it
	how     string
	carried string
}

// pageLoop is what one page's refusals show: from is the rs index where its loop
// began (its first refusal, or the login attempt right before it), which is where
// the causes are looked for; steps are the times round.
type pageLoop struct {
	from  int
	steps []loopStep
}

// loginLoop reports the broken authentication loop, recognised by its outcome: a
// page answered "not logged in" (a redirect to the login page, a 401, the login form
// in its place) is answered the same way again after a login attempt, whatever
// carried the browser there (a redirect, a script, a meta refresh, a script's
// login request then a page load, a round trip through another site's login). Each
// page is one finding per root cause; each time round counts. Otherwise it looks for
// the other sign: a fresh session cookie on each of >= 3 consecutive page loads. It
// returns the conclusions it could not reach for a sanitized HAR.
func loginLoop(rs []*replayed, rec *Recorder, lp *loginPages, cited map[string][]citation, opts AnalyzeOptions) (missing []string) {
	type last struct {
		index    int // rs index of the refusal
		sig      string
		attempts int // login attempts seen before it
	}
	lastRefusal := map[string]last{}
	loops := map[string]*pageLoop{}
	var order []string
	attempts, lastAttempt := 0, -1
	carried := ""
	var prevNav *replayed
	landingNext := false // the next page load is where a login attempt led
	for i, r := range rs {
		if how, ok := loginAttempt(r, prevNav, lp); ok {
			attempts++
			lastAttempt, carried = i, how
			landingNext = true
			if r.nav {
				prevNav = r
			}
			continue
		}
		if !r.nav {
			continue
		}
		prevNav = r
		landing := landingNext
		if !strings.EqualFold(r.x.Method, "GET") || lp.named(r.u) {
			landingNext = false
			continue
		}
		ref, ok := refused(r, nextNav(rs, i), lp)
		if ok && ref.weak && passesOn(rs, i, lp) {
			ok = false
		}
		if ok || r.x.Status < 300 || r.x.Status >= 400 {
			landingNext = false // the redirects after a login lead to where it landed
		}
		if !ok {
			if r.x.Status >= 200 && r.x.Status < 300 {
				// The page was served: the login before it held. A later refusal (the
				// session expired, the user logged out) starts a new story, not the
				// next round of a loop.
				delete(lastRefusal, pageKey(r.u))
			}
			continue
		}
		page := pageKey(r.u)
		prev, seen := lastRefusal[page]
		lastRefusal[page] = last{index: i, sig: ref.sig, attempts: attempts}
		if ref.sig == "form" && !landing {
			// A login form is the login page's own content: it says "not logged in"
			// only where a login attempt led. Elsewhere it is what the next time round
			// is compared with.
			if !seen && (loops[page] == nil || len(loops[page].steps) == 0) {
				loops[page] = &pageLoop{from: i}
			}
			continue
		}
		if !seen && (loops[page] == nil || len(loops[page].steps) == 0) {
			from := i
			if lastAttempt >= 0 {
				from = lastAttempt
			}
			loops[page] = &pageLoop{from: from}
		}
		if !seen || prev.sig != ref.sig || prev.attempts == attempts {
			continue
		}
		if len(loops[page].steps) == 0 {
			order = append(order, page)
		}
		loops[page].steps = append(loops[page].steps, loopStep{to: i, attempt: lastAttempt, how: ref.how, carried: carried})
	}
	if len(order) > 0 {
		for _, page := range order {
			reportLoop(rs, rec, page, loops[page], cited, opts)
		}
		return nil
	}
	return freshSessionLoop(rs, rec, cited, opts)
}

// reportLoop reports the loop of one page: one finding per root cause the HTTP side
// shows (a store-side cause found later does not change which finding it is), each
// time round one occurrence.
func reportLoop(rs []*replayed, rec *Recorder, page string, pl *pageLoop, cited map[string][]citation, opts AnalyzeOptions) {
	lastStep := pl.steps[len(pl.steps)-1]
	causes := loopCitations(rs, pl.from, lastStep.to, cited)
	var httpCauses []string
	for _, c := range causes {
		if !c.store {
			httpCauses = append(httpCauses, c.id)
		}
	}
	slices.Sort(httpCauses)
	last := rs[lastStep.to]
	what := fmt.Sprintf("After a login attempt (%s), %s was answered \"not logged in\" again: %s. "+
		"It had been answered the same way before that login, so the user logs in and is sent back to log in, again and again (%d time(s) here).",
		lastStep.carried, describeURL(last.u), lastStep.how, len(pl.steps))
	detail, fix := loopCause(rs, pl.from, lastStep.to, causes, what, opts)
	for _, st := range pl.steps {
		refusal, attempt := rs[st.to], rs[st.attempt]
		sessions := sessionsOn(rs, st.attempt, st.to)
		rec.Report(Report{
			Cause:     "loop\x00" + page + "\x00" + strings.Join(httpCauses, ","),
			Severity:  model.SeverityError,
			Title:     "Login loop: the browser is sent back to log in again",
			Detail:    detail,
			Fix:       fix,
			Exchange:  attempt.x.ID,
			Exchanges: []string{refusal.x.ID},
			Sessions:  sessions,
			Evidence: fmt.Sprintf("%s → %d (login attempt); %s → %d: not logged in (%s)",
				evidencePrefix(attempt.x), attempt.x.Status, evidencePrefix(refusal.x), refusal.x.Status, st.how),
			Time: refusal.x.Start,
		})
	}
}

// sessionsOn lists the sessions the exchanges rs[from..to] carried or were given,
// each once, in the order they appear.
func sessionsOn(rs []*replayed, from, to int) []string {
	var sessions []string
	for j := from; j <= to; j++ {
		for _, ref := range exchangeRefs(rs[j].x) {
			if !slices.Contains(sessions, ref) {
				sessions = append(sessions, ref)
			}
		}
	}
	return sessions
}

// loopCitations are the findings that explain what happened on rs[from..to], the
// refusal's own (rs[to]) first: the page that refused tells the most.
func loopCitations(rs []*replayed, from, to int, cited map[string][]citation) []citation {
	var causes []citation
	seen := map[string]bool{}
	add := func(j int) {
		for _, c := range cited[rs[j].x.ID] {
			if !seen[c.id] {
				seen[c.id] = true
				causes = append(causes, c)
			}
		}
	}
	add(to)
	for j := to - 1; j >= from; j-- {
		add(j)
	}
	return causes
}

// loopCause is the detail's root cause and the fix: the findings that explain the
// loop, or what the exchanges do show when none does.
func loopCause(rs []*replayed, from, to int, causes []citation, what string, opts AnalyzeOptions) (detail, fix string) {
	detail = what + " "
	if len(causes) > 0 {
		var parts []string
		for _, c := range causes {
			parts = append(parts, c.summary+" [finding "+c.id+"]")
		}
		detail += "Root cause: " + strings.Join(parts, "; ") + "."
		fix = "Fix the root cause named in the detail (see its finding's fix): once the browser keeps and sends the session cookie, the loop ends."
		for _, c := range causes {
			switch {
			case c.store:
				fix = "Fix the root cause named in the detail (see its finding's fix): once the session the login wrote is there for the next request, the loop ends."
			case strings.HasPrefix(c.id, "duplicate-cookie-"):
				fix = "Fix the root cause named in the detail (see its finding's fix): once every request carries only the cookie the login wrote, the loop ends."
			}
		}
		return detail, fix
	}
	if opts.CookiesAbsent {
		detail += "The HAR has no cookies, so the cause cannot be told from it: re-export it with cookies, or watch the session store."
		fix = "Re-export the HAR with sensitive data, or run sessionscope watch --redis URL while reproducing the loop."
		return detail, fix
	}
	issued, sentBack := false, false
	for j := 0; j <= to; j++ {
		if len(rs[j].issued) > 0 || len(rs[j].rejected) > 0 {
			issued = true
		}
	}
	refusal := rs[to]
	if len(refusal.sentHAR) > 0 {
		sentBack = true
	}
	switch {
	case !issued:
		detail += "No response set a session cookie before the page refused the user (no session Set-Cookie arrived), so the browser had no session to send back: " +
			"the login did not start a session the browser could keep (a session never started, or a cookie sent under a name the app does not read). " +
			"OWASP's Session Management Cheat Sheet: the session id is set by the server at login, in a cookie, and sent back on every later request."
		fix = "Start the session and send its cookie in the login's response. PHP: session_start() before any output, then session_regenerate_id(true); " +
			"$_SESSION['user'] = $id; session_write_close(); header('Location: /dashboard'). Node (express-session): req.session.regenerate, then req.session.save(() => res.redirect('/dashboard'))."
	case !sentBack:
		detail += "The browser was given a session cookie but the request to " + describeURL(refusal.u) + " carried none, and the cookie jar model found no attribute that holds it back: " +
			"the browser, an extension or something between browser and app dropped it."
		fix = "Compare the Set-Cookie of the login with the request to the refused page in the browser's DevTools (Application → Cookies, Network → Cookies): the cookie must be listed and sent."
	default:
		detail += "No cookie finding explains it: the browser stored the session cookie and sent it back, and the server still did not find the login's session. " +
			"The cause is not visible from the HTTP side: a stale read (the page's request read the session before the login request had written it) or servers that do not share sessions " +
			"(a load balancer without a shared store)."
		if opts.StoreWatched {
			detail += " The watched store showed no cause for it so far: look at the session's events (written after the page read it? a write on another store?)."
		} else {
			detail += " It needs the store side: run sessionscope watch --redis URL --proxy-to APP while reproducing the loop."
		}
		fix = "Write the session before redirecting and share one store across servers. " +
			"PHP: session_regenerate_id(true); $_SESSION['user'] = $id; session_write_close(); header('Location: /dashboard'); with session.save_handler = redis on every server. " +
			"Node (express-session): req.session.save(() => res.redirect('/dashboard')) with one shared store (connect-redis) for every instance."
	}
	return detail, fix
}

// freshSessionLoop reports the loop's other sign: a fresh session cookie on each of
// >= 3 consecutive page loads, every request arriving without a session the server
// recognised.
func freshSessionLoop(rs []*replayed, rec *Recorder, cited map[string][]citation, opts AnalyzeOptions) (missing []string) {
	if opts.ValuesStripped || opts.CookiesAbsent {
		return []string{"not reached: a login loop that shows only as a fresh session id on every response (needs cookie values)"}
	}
	var navs []int // rs indexes
	for i, r := range rs {
		if r.nav {
			navs = append(navs, i)
		}
	}
	issuedValue := func(r *replayed, live bool) string {
		v := ""
		for _, sc := range r.issued {
			if sc.Value != "" && (!live || sc.MaxAge == nil || *sc.MaxAge > 0) {
				v = sc.Name + "=" + sc.Value
			}
		}
		return v
	}
	start, prev := -1, ""
	for i, ri := range navs {
		r := rs[ri]
		v := issuedValue(r, true)
		if v == "" || v == prev || start >= 0 && strangerRequest(r) {
			start, prev = -1, v
			continue
		}
		if start >= 0 && !strings.EqualFold(r.u.Host, rs[navs[start]].u.Host) {
			// A cookie from another host (a sibling subdomain planting one) is not the
			// same server failing to recognise its own session: start over from it.
			start = -1
		}
		if start < 0 {
			start = i
		}
		prev = v
		// A streak is not concluded on a login POST: the page load after it tells
		// whether the login held, and a loop its outcome shows is reported by it.
		if i-start+1 < 3 || strings.EqualFold(r.x.Method, "POST") {
			continue
		}
		end := i
		for end+1 < len(navs) {
			nv := issuedValue(rs[navs[end+1]], false)
			if nv == "" || nv == prev {
				break
			}
			prev = nv
			end++
		}
		first, lastNav := rs[navs[start]], rs[navs[end]]
		causes := loopCitations(rs, navs[start], navs[end], cited)
		sessions := sessionsOn(rs, navs[start], navs[end])
		detail, fix := loopCause(rs, navs[start], navs[end], causes, fmt.Sprintf("The server issued a fresh session cookie on each of %d consecutive responses: every request arrived without a session it recognised, "+
			"so the user logs in and is sent back to log in, again and again.", end-start+1), opts)
		for k := start; k <= end; k++ {
			x := rs[navs[k]].x
			rec.Report(Report{
				Cause:    "fresh\x00" + strings.ToLower(first.u.Host),
				Severity: model.SeverityError,
				Title:    "Login loop: the browser is sent back to log in again",
				Detail:   detail,
				Fix:      fix,
				Exchange: x.ID,
				Sessions: sessions,
				Evidence: fmt.Sprintf("%s → %d: new %s issued", evidencePrefix(x), x.Status, rs[navs[k]].issued[0].Name),
				Time:     lastNav.x.Start,
			})
		}
		return nil
	}
	return nil
}

// strangerRequest reports a request that carried no session cookie although the
// replayed browser held one it would have sent: it came from another browser (a
// capture of a proxy several clients used, or a second visitor), so it cannot
// continue one browser's loop of fresh sessions.
func strangerRequest(r *replayed) bool {
	return len(r.sentJar) > 0 && len(r.sentHAR) == 0
}
