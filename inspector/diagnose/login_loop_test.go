package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// loopFlow builds one browser's exchanges for the login-loop tests.
type loopFlow struct {
	b  *exchangeBuilder
	c  model.Client
	xs []*model.Exchange
}

func newLoopFlow() *loopFlow {
	return &loopFlow{b: &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)},
		c: model.Client{Addr: "127.0.0.1:50000", UA: "Mozilla/5.0"}}
}

// add appends an exchange; referer and form (the response holds a login form) are
// set after the fact.
func (f *loopFlow) add(method, rawURL string, status int, location, referer string, form bool, sent string, setCookies ...string) *model.Exchange {
	x := f.b.make(f.c, method, rawURL, status, location, sent, setCookies...)
	x.RawReferer, x.LoginForm = referer, form
	f.xs = append(f.xs, x)
	return x
}

func loopFindings(fs []model.Finding) []model.Finding {
	var out []model.Finding
	for _, f := range fs {
		if f.Rule == "login-loop" {
			out = append(out, f)
		}
	}
	return out
}

const loopSite = "https://shop.test"

// jsLoop is a login answered 200 (the page moves on by script), after which the
// dashboard sends the browser back to the login page, twice. setCookie says
// whether the login sets a session cookie the browser sends back.
func jsLoop(f *loopFlow, setCookie bool) {
	f.add("GET", loopSite+"/dashboard", 302, "/index", "", false, "")
	f.add("GET", loopSite+"/index", 200, "", "", true, "")
	for round, sid := range []string{"aaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbb"} {
		sent := ""
		if setCookie && round > 0 {
			sent = "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa"
		}
		var set []string
		if setCookie {
			set = []string{"PHPSESSID=" + sid + "; path=/; HttpOnly; Secure; SameSite=Lax"}
			sent = "PHPSESSID=" + sid
		}
		f.add("POST", loopSite+"/login", 200, "", loopSite+"/index", false, "", set...)
		f.add("GET", loopSite+"/dashboard", 302, "/index", loopSite+"/login", false, sent)
		f.add("GET", loopSite+"/index", 200, "", loopSite+"/login", true, sent)
	}
}

func TestLoginLoopByOutcome(t *testing.T) {
	tests := []struct {
		name  string
		flow  func(f *loopFlow)
		opts  AnalyzeOptions
		loops int
		count int      // of the first loop finding
		has   []string // in its detail
		hasnt []string
	}{
		{name: "a login answered 200, then the script's navigation bounces, store watched",
			flow: func(f *loopFlow) { jsLoop(f, true) }, opts: AnalyzeOptions{StoreWatched: true}, loops: 1, count: 2,
			has: []string{"answered 200 and the page moved on by itself (a script or a meta refresh)",
				"https://shop.test/dashboard was answered \"not logged in\" again: a redirect to the login page https://shop.test/index",
				"the browser stored the session cookie and sent it back", "The watched store showed no cause"},
			hasnt: []string{"run sessionscope watch"}},
		{name: "the same from a HAR alone asks for the store",
			flow: func(f *loopFlow) { jsLoop(f, true) }, loops: 1, count: 2,
			has: []string{"the browser stored the session cookie and sent it back", "run sessionscope watch --redis URL"}},
		{name: "no Set-Cookie ever arrived",
			flow: func(f *loopFlow) { jsLoop(f, false) }, loops: 1, count: 2,
			hasnt: []string{"stored the session cookie", "sent it back"}},
		{name: "the login form served in place of the page",
			flow: func(f *loopFlow) {
				f.add("GET", loopSite+"/dashboard", 200, "", "", true, "")
				for range 2 {
					f.add("POST", loopSite+"/login", 200, "", loopSite+"/dashboard", false, "")
					f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/login", true, "")
				}
			}, loops: 1, count: 2,
			has: []string{"the login form (a page with a password input) served in place of the page"}},
		{name: "a script's login request, then a 401",
			flow: func(f *loopFlow) {
				f.add("GET", loopSite+"/dashboard", 401, "", "", false, "")
				for range 2 {
					f.add("GET", loopSite+"/index", 200, "", loopSite+"/dashboard", true, "")
					f.add("POST", loopSite+"/api/login", 200, "", loopSite+"/index", false, "")
					f.add("GET", loopSite+"/dashboard", 401, "", loopSite+"/index", false, "")
				}
			}, loops: 1, count: 2,
			has: []string{"a script's login request (XHR/fetch) POST https://shop.test/api/login answered 200", "again: a 401"}},
		{name: "a single sign-on round trip through another site",
			flow: func(f *loopFlow) {
				authorize := "https://idp.test/authorize?return=x"
				f.add("GET", loopSite+"/dashboard", 302, authorize, "", false, "")
				for range 2 {
					f.add("GET", authorize, 200, "", "", true, "")
					f.add("POST", "https://idp.test/idp_login", 302, loopSite+"/callback?code=1", "https://idp.test/authorize", false, "")
					f.add("GET", loopSite+"/callback?code=1", 302, "/dashboard", "https://idp.test/", false, "")
					f.add("GET", loopSite+"/dashboard", 302, authorize, "https://idp.test/", false, "")
				}
			}, loops: 1, count: 2,
			has: []string{"the login POST https://idp.test/idp_login answered 302", "a redirect to the login page https://idp.test/authorize"}},
		{name: "every redirect by script, a login form without a password input (output before session_start)",
			flow: func(f *loopFlow) { scriptOnlyLoop(f, "/index") }, loops: 1, count: 1,
			has: []string{"https://shop.test/dashboard was answered \"not logged in\" again: the page sent the browser to the login page https://shop.test/index by itself (a script or a meta refresh)"}},
		{name: "healthy: a page that moves on by script to a page that is no login page",
			flow: func(f *loopFlow) { scriptOnlyLoop(f, "/welcome") }, loops: 0},
		{name: "a login page the guess does not know, without --login-path",
			flow:  loginPathFlow,
			loops: 0},
		{name: "a login page named by --login-path",
			flow: loginPathFlow, opts: AnalyzeOptions{LoginPaths: []string{"/account/ent*"}}, loops: 1, count: 2,
			has: []string{"a redirect to the login page https://shop.test/account/enter"}},
		{name: "two pages, two loops",
			flow: func(f *loopFlow) {
				for _, page := range []string{"/dashboard", "/reports"} {
					f.add("GET", loopSite+page, 302, "/index", "", false, "")
					f.add("POST", loopSite+"/login", 302, page, loopSite+"/index", false, "")
					f.add("GET", loopSite+page, 302, "/index", loopSite+"/index", false, "")
				}
			}, loops: 2, count: 1},
		{name: "healthy: the login holds",
			flow: func(f *loopFlow) {
				f.add("GET", loopSite+"/dashboard", 302, "/index", "", false, "")
				f.add("GET", loopSite+"/index", 200, "", "", true, "")
				f.add("POST", loopSite+"/login", 200, "", loopSite+"/index", false, "", "PHPSESSID=cccccccccccccccccccccccccc; path=/; HttpOnly; Secure; SameSite=Lax")
				f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/login", false, "PHPSESSID=cccccccccccccccccccccccccc")
			}, loops: 0},
		{name: "healthy: a wrong password is not a loop",
			flow: func(f *loopFlow) {
				f.add("GET", loopSite+"/dashboard", 302, "/index", "", false, "")
				f.add("GET", loopSite+"/index", 200, "", "", true, "")
				f.add("POST", loopSite+"/login", 200, "", loopSite+"/index", true, "")
				f.add("GET", loopSite+"/dashboard", 302, "/index", "", false, "")
			}, loops: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newLoopFlow()
			tc.flow(f)
			ls := loopFindings(AnalyzeExchanges(f.xs, tc.opts))
			if len(ls) != tc.loops {
				for _, l := range ls {
					t.Logf("%s: %s", l.ID, l.Detail)
				}
				t.Fatalf("%d login-loop findings, want %d", len(ls), tc.loops)
			}
			if tc.loops == 0 {
				return
			}
			l := ls[0]
			if l.Count != tc.count {
				t.Errorf("count %d, want %d", l.Count, tc.count)
			}
			for _, s := range tc.has {
				if !strings.Contains(l.Detail, s) {
					t.Errorf("the detail lacks %q:\n%s", s, l.Detail)
				}
			}
			for _, s := range tc.hasnt {
				if strings.Contains(l.Detail, s) {
					t.Errorf("the detail says %q:\n%s", s, l.Detail)
				}
			}
			for _, s := range []string{"seed", "post-mortem"} {
				if strings.Contains(strings.ToLower(l.Detail+l.Fix), s) {
					t.Errorf("the finding mentions %q", s)
				}
			}
		})
	}
}

// scriptOnlyLoop is an app that redirects only from its pages (a script), with a
// form that has no password input: the login page is known only as the page the
// login was posted from. The dashboard sends the browser on to bounceTo by script.
func scriptOnlyLoop(f *loopFlow, bounceTo string) {
	f.add("GET", loopSite+"/index", 200, "", "", false, "")
	for range 2 {
		f.add("POST", loopSite+"/login", 200, "", loopSite+"/index", false, "").ClientRedirect = true
		f.add("GET", loopSite+"/dashboard", 200, "", loopSite+"/login", false, "").ClientRedirect = true
		f.add("GET", loopSite+bounceTo, 200, "", loopSite+"/dashboard", false, "")
		if bounceTo != "/index" {
			f.add("GET", loopSite+"/index", 200, "", loopSite+bounceTo, false, "")
		}
	}
}

// loginPathFlow is a loop on a login page at /account/enter, which the built-in
// guess at login URLs does not match; the login sets no cookie, so only its path
// makes the POST a login.
func loginPathFlow(f *loopFlow) {
	f.add("GET", loopSite+"/home", 302, "/account/enter", "", false, "")
	for range 2 {
		f.add("GET", loopSite+"/account/enter", 200, "", "", false, "")
		f.add("POST", loopSite+"/account/enter", 302, "/home", loopSite+"/account/enter", false, "")
		f.add("GET", loopSite+"/home", 302, "/account/enter", loopSite+"/account/enter", false, "")
	}
}

// TestLoginLoopIdentityLive: live, one loop is one finding whatever its length; it
// lists the sessions of its exchanges; the same loop again later counts up and
// keeps its first sighting.
func TestLoginLoopIdentityLive(t *testing.T) {
	e := NewEngine(Config{})
	f := newLoopFlow()
	jsLoop(f, true)
	published := map[string]model.Finding{}
	observe := func(xs []*model.Exchange) {
		for _, x := range xs {
			_, changed := e.ObserveExchange(x)
			for _, c := range changed {
				published[c.ID] = *c
			}
		}
	}
	observe(f.xs)
	var first model.Finding
	for _, p := range published {
		if p.Rule == "login-loop" {
			if first.ID != "" {
				t.Fatalf("two login-loop findings for one loop: %s and %s", first.ID, p.ID)
			}
			first = p
		}
	}
	if first.ID == "" || first.Count != 2 {
		t.Fatalf("login-loop after two rounds: %+v, want count 2", first)
	}
	if len(first.Sessions) == 0 {
		t.Errorf("the finding lists no session: the session page cannot show it")
	}

	// Later, the same loop again: one more login, one more bounce.
	f.b.now = f.b.now.Add(time.Minute)
	n := len(f.xs)
	f.add("POST", loopSite+"/login", 200, "", loopSite+"/index", false, "", "PHPSESSID=dddddddddddddddddddddddddd; path=/; HttpOnly; Secure; SameSite=Lax")
	f.add("GET", loopSite+"/dashboard", 302, "/index", loopSite+"/login", false, "PHPSESSID=dddddddddddddddddddddddddd")
	observe(f.xs[n:])
	var loops []model.Finding
	for _, k := range e.Findings() {
		if k.Rule == "login-loop" {
			loops = append(loops, k)
		}
	}
	if len(loops) != 1 || loops[0].ID != first.ID {
		t.Fatalf("login-loop findings after the loop went round again: %+v, want the one %s", loops, first.ID)
	}
	if loops[0].Count != 3 || !loops[0].FirstSeen.Equal(first.FirstSeen) || !loops[0].LastSeen.After(first.LastSeen) {
		t.Errorf("count %d first_seen %s last_seen %s; want 3, %s kept, later than %s",
			loops[0].Count, loops[0].FirstSeen, loops[0].LastSeen, first.FirstSeen, first.LastSeen)
	}
}
