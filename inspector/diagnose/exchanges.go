package diagnose

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// AnalyzeOptions tunes AnalyzeExchanges.
type AnalyzeOptions struct {
	// Cookies are custom session cookie names, added to the builtin table.
	Cookies []framework.CookieMapping
	// ValuesStripped marks a sanitized HAR (traffic.HARSummary.ValuesStripped): cookie
	// values were removed, so conclusions that need them are not drawn.
	ValuesStripped bool
	// CookiesAbsent marks a HAR without any cookie (traffic.HARSummary.CookiesAbsent).
	CookiesAbsent bool
	// StoreCauses returns the store-side findings (stale-read, cookie-missing,
	// session-not-shared) that explain an exchange, so a live login loop names them.
	StoreCauses func(exchangeID string) []StoreCause
	// Mapping turns a cookie into a session ref for the blocked-cookie annotations.
	// Default: none (blocked cookies carry no ref).
	Mapping func(name, value string) (ref string, ok bool)
	// Redact names the URL parameters whose values findings hide. Default the
	// built-in list.
	Redact model.Redaction
	// LoginPaths name the login page(s), a path or a path.Match pattern each
	// (--login-path). Default: none, login URLs are guessed (loginPath).
	LoginPaths []string
	// StoreWatched says the session store is watched too (live), so findings do not
	// ask for it. Default false (analyze: a HAR alone).
	StoreWatched bool
}

// replayed is one exchange after it went through the browser model.
type replayed struct {
	x        *model.Exchange
	u        *url.URL
	nav      bool
	sentHAR  map[string]bool // session cookie names the HAR says the request carried
	sentJar  map[string]bool // session cookie names the jar would send
	blocked  []cookies.Blocked
	rejected []rejection
	issued   []model.SetCookie // session cookies the response set and the jar stored
}

type rejection struct {
	sc      model.SetCookie
	verdict cookies.Verdict
}

// AnalyzeExchanges replays HTTP exchanges (one browser, e.g. one HAR) through a
// model of Chromium's cookie jar and returns the findings of the HTTP-side rules:
// cookie-rejected, cookie-not-sent, login-loop, session-id-in-url, cookie-flags,
// sensitive-data-in-cookie, header-injection and weak-session-id. It annotates each session
// Set-Cookie with the jar's verdict (Stored, Reason) and each exchange with the session
// cookies the jar held back (CookiesBlocked).
func AnalyzeExchanges(exchanges []*model.Exchange, opts AnalyzeOptions) []model.Finding {
	xs := append([]*model.Exchange(nil), exchanges...)
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].Start.Before(xs[j].Start) })

	e := &Engine{cfg: Config{Redact: opts.Redact}, findings: map[string]*model.Finding{}, dirty: map[string]bool{}}
	isSession := func(name string) bool { return framework.IsSessionCookieName(name, opts.Cookies) }

	jar := newReplayJar()
	var top *url.URL
	rs := make([]*replayed, 0, len(xs))
	for _, x := range xs {
		u, err := url.Parse(x.RawURL)
		if err != nil || u.Host == "" {
			continue
		}
		r := &replayed{x: x, u: u, nav: isNavigation(x, u), sentHAR: map[string]bool{}, sentJar: map[string]bool{}}
		if r.nav {
			top = u
		}
		ctx := cookies.Context{URL: u, Method: x.Method, TopLevelNav: r.nav, Now: x.Start}
		if !r.nav {
			ctx.SiteForCookies = top
		} else {
			ctx.Initiator = navigationInitiator(x)
		}
		for _, c := range x.CookiesSent {
			if isSession(c.Name) {
				r.sentHAR[c.Name] = true
			}
		}
		sent, blocked := jar.Send(ctx)
		for _, c := range sent {
			if isSession(c.Name) {
				r.sentJar[c.Name] = true
			}
		}
		x.CookiesBlocked = x.CookiesBlocked[:0]
		for _, b := range blocked {
			if !isSession(b.Cookie.Name) || len(b.Reasons) == 0 {
				continue
			}
			r.blocked = append(r.blocked, b)
			_, why, _ := notSentText(b.Reasons[0], b.Cookie, r)
			ref := ""
			if opts.Mapping != nil && !x.ValuesStripped {
				ref, _ = opts.Mapping(b.Cookie.Name, b.Cookie.Value)
			}
			x.CookiesBlocked = append(x.CookiesBlocked, model.BlockedCookie{
				Name: b.Cookie.Name, SessionRef: ref, Reason: string(b.Reasons[0]), Detail: why})
		}
		if len(x.CookiesBlocked) == 0 {
			x.CookiesBlocked = nil
		}
		for i := range x.SetCookies {
			sc := &x.SetCookies[i]
			line := sc.Raw
			if line == "" {
				line = sc.Line()
			}
			v := jar.Store(ctx, line)
			if !isSession(sc.Name) {
				continue
			}
			stored := v.Stored || v.Deleted
			sc.Stored = &stored
			if len(v.Reasons) > 0 {
				sc.Reason = string(v.Reasons[0])
				r.rejected = append(r.rejected, rejection{sc: *sc, verdict: v})
			} else if v.Stored {
				r.issued = append(r.issued, *sc)
			}
		}
		rs = append(rs, r)
	}

	cited := map[string][]citation{}         // by exchange id: cookie findings explaining it
	lp := newLoginPages(rs, opts.LoginPaths) // the login pages, for the rules that tell a login
	cookieRejected(rs, &Recorder{e: e, rule: "cookie-rejected"}, cited)
	cookieNotSent(rs, &Recorder{e: e, rule: "cookie-not-sent"}, cited)
	if opts.StoreCauses != nil {
		for _, r := range rs {
			for _, c := range opts.StoreCauses(r.x.ID) {
				cited[r.x.ID] = append(cited[r.x.ID], citation{id: c.FindingID, summary: c.Summary, store: true})
			}
		}
	}
	if opts.StoreCauses == nil && !opts.StoreWatched {
		// A HAR alone: the store-side rules cannot see the writes, so the HTTP side's
		// timing and upstreams say what they can of a stale read or unshared sessions.
		staleReadHTTP(rs, &Recorder{e: e, rule: "stale-read"}, cited)
		sessionNotSharedHTTP(rs, &Recorder{e: e, rule: "session-not-shared"}, cited)
		fixationHTTP(rs, &Recorder{e: e, rule: "fixation"}, lp, isSession, opts)
	}
	noSession(rs, &Recorder{e: e, rule: "no-session"}, cited, isSession, opts)
	duplicateCookie(rs, &Recorder{e: e, rule: "duplicate-cookie"}, cited, isSession)
	missing := loginLoop(rs, &Recorder{e: e, rule: "login-loop"}, lp, cited, opts)
	sessionIDInURL(rs, &Recorder{e: e, rule: "session-id-in-url"}, isSession, e.cfg.Redact)
	cookieFlags(rs, &Recorder{e: e, rule: "cookie-flags"}, isSession)
	sensitiveDataInCookie(rs, &Recorder{e: e, rule: "sensitive-data-in-cookie"})
	headerInjection(rs, &Recorder{e: e, rule: "header-injection"})
	weakSessionIDs(rs, &Recorder{e: e, rule: "weak-session-id"}, isSession, opts.Cookies)
	strippedNotice(rs, &Recorder{e: e, rule: "sanitized-har"}, opts, missing)
	listSessions(e, rs)
	return e.Findings()
}

// listSessions gives each finding the sessions its exchanges carried or were given,
// so the page of a session shows the HTTP-side findings about it.
func listSessions(e *Engine, rs []*replayed) {
	byID := make(map[string]*model.Exchange, len(rs))
	for _, r := range rs {
		byID[r.x.ID] = r.x
	}
	for _, f := range e.findings {
		for _, id := range f.Exchanges {
			x := byID[id]
			if x == nil {
				continue
			}
			for _, ref := range exchangeRefs(x) {
				if len(f.Sessions) < maxSampleSessions && !slices.Contains(f.Sessions, ref) {
					f.Sessions = append(f.Sessions, ref)
				}
			}
		}
	}
}

// navigationInitiator is the origin of the document that started a navigation, as
// far as the exchange tells: its Referer's origin. A link or form on another site
// sends that site's origin (Chromium's default policy keeps at least the origin
// across sites, also along the redirects that follow), which makes the navigation
// cross-site for SameSite=Strict and Lax. Without a Referer (typed URL, bookmark,
// or Referrer-Policy: no-referrer) it returns nil: the browser itself, same-site.
func navigationInitiator(x *model.Exchange) *url.URL {
	if x.RawReferer == "" {
		return nil
	}
	ref, err := url.Parse(x.RawReferer)
	if err != nil || ref.Host == "" || (ref.Scheme != "http" && ref.Scheme != "https") {
		return nil
	}
	return &url.URL{Scheme: ref.Scheme, Host: ref.Host}
}

// citation is a cookie finding that explains what happened on an exchange.
type citation struct {
	id      string
	summary string
	store   bool // a store-side finding rather than a cookie verdict
}

// isNavigation guesses a top-level navigation: HAR entries do not always say the
// resource type, so a GET or POST answered with a redirect, or for a path that does
// not look like a static asset or an API call, counts as a document load.
func isNavigation(x *model.Exchange, u *url.URL) bool {
	m := strings.ToUpper(x.Method)
	if m != "GET" && m != "POST" {
		return false
	}
	if x.Status >= 300 && x.Status < 400 {
		return true
	}
	p := strings.ToLower(u.Path)
	if strings.HasPrefix(p, "/api/") {
		return false
	}
	switch path.Ext(p) {
	case ".js", ".mjs", ".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp",
		".woff", ".woff2", ".ttf", ".map", ".json", ".xml", ".txt", ".mp4", ".webm":
		return false
	}
	return true
}

// strippedNotice reports, as one info finding, what a sanitized HAR kept from view.
// A HAR without any cookie is sanitized only as far as the file tells: when the
// no-session rule found that the app set no session cookie, the absence may be the
// app's, so the notice claims no sanitization and says both readings.
func strippedNotice(rs []*replayed, rec *Recorder, opts AnalyzeOptions, missing []string) {
	if !opts.ValuesStripped && !opts.CookiesAbsent || len(rs) == 0 {
		return
	}
	var lines []string
	title := "Cookie values missing from the HAR: some conclusions could not be reached"
	detail := "The HAR's cookie values were removed or redacted (a sanitized export)."
	if opts.CookiesAbsent {
		detail = "The HAR carries no Cookie or Set-Cookie headers at all (Chrome's sanitized export drops them)."
		if rec.e.hasFindingOf("no-session") {
			title = "No cookie in the HAR: some conclusions could not be reached"
			detail = "The HAR carries no Cookie or Set-Cookie headers at all. The app's login set no session cookie (see the no-session finding), " +
				"which explains a HAR without cookies; a sanitized export (Chrome's default) would drop them too, and the file cannot tell the two apart."
		}
		lines = append(lines, "not reached: whether the browser rejected a session cookie (cookie-rejected)",
			"not reached: whether a stored session cookie was left out of a request (cookie-not-sent)")
		if !rec.e.hasFindingOf("no-session") { // otherwise it names the loop's root cause
			lines = append(lines, "not reached: the root cause of any login loop")
		}
	} else {
		lines = append(lines, "not reached: which session each request carried (session refs)",
			"not reached: cookie sizes (NameValuePairExceedsMaxSize)",
			"not reached: whether each response issued a fresh session id")
	}
	lines = append(lines, missing...)
	detail += " Conclusions that need cookie values could not be reached; the ones listed in the evidence are missing from this report."
	for _, l := range lines {
		rec.Report(Report{
			Cause:    "stripped",
			Severity: model.SeverityInfo,
			Title:    title,
			Detail:   detail,
			Fix: "Export the HAR again with cookies and values: in Chrome DevTools, Network panel → " +
				"\"Export HAR (with sensitive data)\" (enable it in Settings → Preferences → Network → \"Allow to generate HAR with sensitive data\"); " +
				"in Firefox, Save All As HAR. Use a throwaway test account: the file then holds live session ids.",
			Evidence: l,
			Time:     rs[0].x.Start,
		})
	}
}

// describeURL is the part of a request URL safe to print: scheme, host and path (the
// query may carry session ids).
func describeURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

func evidencePrefix(x *model.Exchange) string {
	return fmt.Sprintf("%s %s %s %s", x.ID, x.Start.UTC().Format("15:04:05.000"), x.Method, x.URL)
}
