package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Login loops found by their outcome: a page answered "not logged in" again after a
// login, whatever carried the browser there (a script, a meta refresh, a script's
// login request, a round trip through another site's login), each case live and
// from the HAR, next to its healthy twin.

// submitAndWait clicks the page's button and waits until the browser has left the
// page for one where cond holds: the marker set on the old page tells them apart.
func submitAndWait(b *browsertest.Browser, what, cond string) {
	browsertest.Eval[bool](b, "window.__sessionscopeOldPage = true")
	b.Do(chromedp.Click(chromedp.CSS(`button`)))
	b.WaitJS(what, `!window.__sessionscopeOldPage && document.readyState === "complete" && (`+cond+`)`)
}

// waitLoop waits for a login-loop finding watch prints that satisfies pred.
func waitLoop(c *php8Case, what string, pred func(model.Finding) bool) model.Finding {
	c.t.Helper()
	l := c.W.waitFor(what, func(l line) bool {
		if l.Rule != "login-loop" {
			return false
		}
		var f model.Finding
		return json.Unmarshal([]byte(l.raw), &f) == nil && pred(f)
	})
	var f model.Finding
	if err := json.Unmarshal([]byte(l.raw), &f); err != nil {
		c.t.Fatal(err)
	}
	return f
}

// waitExchange waits for the exchange line of a request to path answered status.
func waitExchange(c *php8Case, path string, status int) {
	c.t.Helper()
	c.W.waitFor("the exchange of "+path, func(l line) bool {
		if !strings.Contains(l.raw, `"type":"exchange"`) {
			return false
		}
		var x model.Exchange
		return json.Unmarshal([]byte(l.raw), &x) == nil && x.Status == status && strings.Contains(x.URL, path)
	})
}

// loops are the login-loop findings of fs.
func loops(fs []model.Finding) []model.Finding {
	var out []model.Finding
	for _, f := range fs {
		if f.Rule == "login-loop" {
			out = append(out, f)
		}
	}
	return out
}

// checkLoop asserts one login-loop finding, saying each of want in its detail.
func checkLoop(t *testing.T, where string, fs []model.Finding, want ...string) model.Finding {
	t.Helper()
	ls := loops(fs)
	if len(ls) != 1 {
		t.Fatalf("%s: %d login-loop findings, want 1:\n%s", where, len(ls), describeFindings(fs))
	}
	f := ls[0]
	for _, w := range want {
		if !strings.Contains(f.Detail, w) {
			t.Errorf("%s: the login-loop detail lacks %q:\n%s", where, w, f.Detail)
		}
	}
	for _, banned := range []string{"stored the session cookie and sent it back", "run sessionscope watch"} {
		if strings.Contains(f.Detail, banned) {
			t.Errorf("%s: the detail says %q although a cookie finding explains the loop:\n%s", where, banned, f.Detail)
		}
	}
	if f.Count < 2 {
		t.Errorf("%s: count %d, want the two times round", where, f.Count)
	}
	return f
}

type loopCase struct {
	name string
	app  string
	// broken and fixed are the php.ini settings of the loop and of its healthy twin.
	broken, fixed []string
	// start is where the browser starts: the protected page, which sends it to log in.
	startHost, startPath string
	// loginCond holds on the page the loop sends the browser back to.
	loginCond string
	// formPath, when set, is the login form's page on startHost, which the user opens
	// to log in (the page the loop sends them back to has no form).
	formPath string
	// twinCond holds on the dashboard the healthy twin reaches.
	twinCond string
	// want are what the finding says, live and from analyze.
	want []string
}

var loopCases = []loopCase{
	{name: "js", app: "loop_js", broken: []string{"session.cookie_path=/account/"},
		startHost: "shop", startPath: "/dashboard.php",
		loginCond: `location.pathname === "/index.php" && !!document.querySelector("[data-testid=login]")`,
		twinCond:  `location.pathname === "/dashboard.php" && !!document.querySelector("[data-testid=dashboard]")`,
		want: []string{"and the page moved on by itself (a script or a meta refresh)", "/dashboard.php was answered \"not logged in\" again: a redirect to the login page",
			"/index.php", "Root cause: cookie-not-sent (NotOnPath"}},
	{name: "meta refresh", app: "loop_meta", fixed: []string{"loop_meta.split_hosts=0"},
		startHost: "app.shop", startPath: "/dashboard.php",
		loginCond: `location.host.startsWith("app.") && !!document.querySelector("[data-testid=login]")`,
		twinCond:  `location.host.startsWith("app.") && !!document.querySelector("[data-testid=dashboard]")`,
		want: []string{"and the page moved on by itself (a script or a meta refresh)", "the login form (a page with a password input) served in place of the page",
			"Root cause: cookie-not-sent (DomainMismatch"}},
	{name: "ajax", app: "loop_ajax", broken: []string{"session.cookie_domain=localhost"},
		startHost: "shop", startPath: "/dashboard.php", formPath: "/index.php",
		loginCond: `location.pathname === "/dashboard.php" && !!document.querySelector("[data-testid=denied]")`,
		twinCond:  `location.pathname === "/dashboard.php" && !!document.querySelector("[data-testid=dashboard]")`,
		want: []string{"a script's login request (XHR/fetch)", "/api/login.php", "was answered \"not logged in\" again: a 401",
			"Root cause: cookie-rejected ("}},
	{name: "sso", app: "loop_sso", broken: []string{"session.cookie_samesite=Strict"},
		startHost: "shop", startPath: "/dashboard.php",
		loginCond: `location.host.startsWith("idp.") && !!document.querySelector("[data-testid=idp]")`,
		twinCond:  `location.host.startsWith("shop.") && !!document.querySelector("[data-testid=dashboard]")`,
		want: []string{"/idp_login.php answered 302", "a redirect to the login page http://idp.localhost:", "/authorize.php",
			"Root cause: cookie-not-sent (SameSite"}},
}

// TestPHP8LoginLoops: each loop, gone round twice in Chromium, is one login-loop
// finding live and from analyze that says how "not logged in" was seen and names
// the cookie finding at its root.
func TestPHP8LoginLoops(t *testing.T) {
	t.Parallel()
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startPHP8(t, tc.app, tc.broken...)
			b := c.Browser()
			b.Navigate(c.URL(tc.startHost, tc.startPath))
			b.WaitJS("the login page", tc.loginCond)
			for round := 1; round <= 2; round++ {
				if tc.formPath != "" {
					b.Navigate(c.URL(tc.startHost, tc.formPath))
				}
				submitAndWait(b, "the login page again", tc.loginCond)
			}
			live := waitLoop(c, "the login loop gone round twice", func(f model.Finding) bool { return f.Count >= 2 })
			if len(live.Sessions) == 0 {
				t.Errorf("live: the finding lists no session, so no session page shows it: %+v", live)
			}
			checkLoop(t, "live", c.Stop(), tc.want...)
			checkLoop(t, "analyze", c.Analyze(), tc.want...)
		})
	}
}

// TestPHP8LoginLoopsHealthyTwins: the same apps, fixed, log in and land on the
// dashboard with no finding, live or from the HAR.
func TestPHP8LoginLoopsHealthyTwins(t *testing.T) {
	t.Parallel()
	for _, tc := range loopCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startPHP8(t, tc.app, tc.fixed...)
			b := c.Browser()
			b.Navigate(c.URL(tc.startHost, tc.startPath))
			b.WaitJS("the login page", tc.loginCond)
			if tc.formPath != "" {
				b.Navigate(c.URL(tc.startHost, tc.formPath))
			}
			submitAndWait(b, "the dashboard", tc.twinCond)
			waitExchange(c, "/dashboard.php", 200)
			noFindings(t, "live", c.Stop())
			noFindings(t, "analyze", c.Analyze())
		})
	}
}

// TestPHP8LoginLoopIdentity: two loops with different causes are two findings; the
// same loop gone round again later is the same finding, counted up, its first
// sighting kept.
func TestPHP8LoginLoopIdentity(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "loop_sso", "session.cookie_samesite=Strict")
	b := c.Browser()
	idp := `location.host.startsWith("idp.localhost") && !!document.querySelector("[data-testid=idp]")`

	// The staff login's loop: the admin host never gets the host-only cookie.
	b.Navigate(c.URL("admin.shop", "/dashboard.php")) // refused before any login
	b.Navigate(c.URL("shop", "/staff_login.php"))
	submitAndWait(b, "the admin host's IdP", `location.host.startsWith("idp.shop.") && !!document.querySelector("[data-testid=idp]")`)
	staff := waitLoop(c, "the staff login's loop", func(model.Finding) bool { return true })
	if !strings.Contains(staff.Detail, "admin.shop.localhost") || !strings.Contains(staff.Detail, "DomainMismatch") {
		t.Errorf("the staff loop's finding does not name its page and cause:\n%s", staff.Detail)
	}

	// The single sign-on loop, once round: another page, another cause, another finding.
	b.Navigate(c.URL("shop", "/dashboard.php"))
	b.WaitJS("the IdP's login", idp)
	submitAndWait(b, "the IdP's login again", idp)
	first := waitLoop(c, "the single sign-on loop", func(f model.Finding) bool { return f.ID != staff.ID })

	// The single sign-on loop again, later, from a fresh browser (this one now holds
	// the Strict cookie, which a typed URL sends): the same finding, counted up.
	b2 := c.Browser()
	b2.Navigate(c.URL("shop", "/dashboard.php"))
	b2.WaitJS("the IdP's login", idp)
	submitAndWait(b2, "the IdP's login again", idp)
	again := waitLoop(c, "the single sign-on loop counted twice", func(f model.Finding) bool { return f.ID == first.ID && f.Count >= 2 })
	if !again.FirstSeen.Equal(first.FirstSeen) {
		t.Errorf("first_seen moved from %s to %s", first.FirstSeen, again.FirstSeen)
	}

	check := func(where string, fs []model.Finding) {
		t.Helper()
		ls := loops(fs)
		if len(ls) != 2 {
			t.Fatalf("%s: %d login-loop findings, want 2 (one per loop):\n%s", where, len(ls), describeFindings(fs))
		}
		byPage := map[bool]model.Finding{}
		for _, f := range ls {
			byPage[strings.Contains(f.Detail, "admin.shop.localhost")] = f
		}
		sso, adm := byPage[false], byPage[true]
		if sso.Count != 2 || !strings.Contains(sso.Detail, "SameSite") {
			t.Errorf("%s: the single sign-on loop: count %d (want 2), detail:\n%s", where, sso.Count, sso.Detail)
		}
		if adm.Count != 1 || !strings.Contains(adm.Detail, "DomainMismatch") {
			t.Errorf("%s: the staff loop: count %d (want 1), detail:\n%s", where, adm.Count, adm.Detail)
		}
		if !adm.FirstSeen.Before(sso.FirstSeen) || !sso.FirstSeen.Before(sso.LastSeen) {
			t.Errorf("%s: the staff loop first seen %s, the single sign-on loop first %s and last %s", where, adm.FirstSeen, sso.FirstSeen, sso.LastSeen)
		}
	}
	live := c.Stop()
	check("live", live)
	for _, f := range loops(live) {
		if f.ID == first.ID && !f.FirstSeen.Equal(first.FirstSeen) {
			t.Errorf("live: first_seen moved from %s to %s", first.FirstSeen, f.FirstSeen)
		}
	}
	check("analyze", c.Analyze())
}

// TestLoginPathFlag: --login-path takes paths and path.Match patterns, repeatable,
// for watch and analyze, and names itself when a value is not one.
func TestLoginPathFlag(t *testing.T) {
	noEnv := func(string) string { return "" }
	tests := []struct {
		name string
		args []string
		want []string // LoginPaths, or nil with wantErr
		err  string
	}{
		{"analyze, repeated", []string{"analyze", "x.har", "--login-path", "/account/enter", "--login-path", "/*/signin"}, []string{"/account/enter", "/*/signin"}, ""},
		{"watch", []string{"watch", "--redis", "redis://127.0.0.1:6379", "--login-path", "/sso/start"}, []string{"/sso/start"}, ""},
		{"not from the root", []string{"analyze", "x.har", "--login-path", "account/enter"}, nil, `--login-path "account/enter"`},
		{"a broken pattern", []string{"watch", "--redis", "redis://127.0.0.1:6379", "--login-path", "/[a"}, nil, `--login-path "/[a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			cfg, err := parseArgs(tc.args, noEnv, &stderr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(cfg.LoginPaths, " ") != strings.Join(tc.want, " ") {
				t.Errorf("LoginPaths %q, want %q", cfg.LoginPaths, tc.want)
			}
		})
	}
}
