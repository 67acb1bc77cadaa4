package cli

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// The no-session cases: output before session_start() with output_buffering off
// (PHP's default without a php.ini), so PHP 8 never starts the session.

// noSessionUnbuffered is the setting under which stray output breaks the session.
const noSessionUnbuffered = "output_buffering=0"

// assertNoSession checks a no-session finding that names the login POST and the
// PHP cause.
func assertNoSession(t *testing.T, where string, fs []model.Finding, severity model.Severity) model.Finding {
	t.Helper()
	f := findingOf(t, where, "no-session", fs)
	if f.Severity != severity {
		t.Errorf("%s: no-session severity %s, want %s", where, f.Severity, severity)
	}
	all := f.Detail + "\n" + f.Fix + "\n" + strings.Join(f.Evidence, "\n")
	for _, want := range []string{"POST", "/login.php", "headers already sent", "BOM", "output_buffering", "session_start()"} {
		if !strings.Contains(all, want) {
			t.Errorf("%s: no-session does not mention %q:\n%s", where, want, all)
		}
	}
	return f
}

// noSanitizedClaim fails when a finding calls the HAR a sanitized export as a fact:
// the app set no cookie, which explains a HAR without cookies.
func noSanitizedClaim(t *testing.T, fs []model.Finding) {
	t.Helper()
	for _, f := range fs {
		if strings.Contains(f.Detail, "sanitized export drops them") {
			t.Errorf("analyze calls the HAR sanitized although the app set no cookie: %s %s", f.Rule, f.Detail)
		}
	}
}

// onlyRules fails when fs holds a finding of a rule not in allowed.
func onlyRules(t *testing.T, where string, fs []model.Finding, allowed ...string) {
	t.Helper()
	for _, f := range fs {
		ok := false
		for _, a := range allowed {
			ok = ok || f.Rule == a
		}
		if !ok {
			t.Errorf("%s: unexpected %s finding:\n%s", where, f.Rule, describeFindings(fs))
		}
	}
}

// TestPHP8NoSessionBOMInclude: config.php was saved with a UTF-8 BOM. The login's
// header redirect fails with the session, so the user is left on a blank page; the
// login POST is reported as a login without a session, live and from the HAR.
func TestPHP8NoSessionBOMInclude(t *testing.T) {
	t.Parallel()
	// display_errors off, as in production: the page stays blank.
	c := startPHP8(t, "no_session_bom", noSessionUnbuffered, "display_errors=0")
	b := c.Browser()
	b.Navigate(c.URL("shop", "/index.php"))
	resp := b.Load(chromedp.Click(chromedp.CSS(`button`)))
	if resp == nil || !strings.HasSuffix(resp.URL, "/login.php") || resp.Status != 200 {
		t.Fatalf("the login answered %+v, want a 200 from /login.php (its Location header cannot be sent)", resp)
	}
	if text := strings.TrimSpace(browsertest.Eval[string](b, "document.body ? document.body.innerText : ''")); text != "" {
		t.Fatalf("the page after the login shows %q, want a blank page", text)
	}
	if got := b.Cookies(c.URL("shop", "/")); len(got) != 0 {
		t.Fatalf("the browser holds cookies %v, want none: the session never started", got)
	}
	c.W.waitFor("the no-session finding", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "no-session" })

	// Nothing reached the store: PHP 8 wrote no session.
	if n := c.Redis.Do(t, "DBSIZE"); strings.TrimSpace(n) != "0" {
		t.Errorf("the store holds %s keys after the login, want none", n)
	}
	live := c.Stop()
	onlyRules(t, "live", live, "no-session")
	assertNoSession(t, "live", live, model.SeverityError)
	for _, f := range live {
		if f.Rule == "cookie-missing" {
			t.Errorf("live: cookie-missing, but PHP 8 writes no session here: %s", f.Detail)
		}
	}

	har := c.Analyze()
	onlyRules(t, "analyze", har, "no-session", "sanitized-har")
	f := assertNoSession(t, "analyze", har, model.SeverityWarning)
	if !strings.Contains(f.Detail, "written by sessionscope's proxy") {
		t.Errorf("analyze: no-session does not say how to read a HAR without cookies: %s", f.Detail)
	}
	noSanitizedClaim(t, har)
}

// TestPHP8NoSessionEchoScriptLoop: bootstrap.php echoes before session_start() and
// the app redirects from the page. The login sends the browser to the dashboard,
// which sends it back to the form: the user logs in twice and is back on the form.
func TestPHP8NoSessionEchoScriptLoop(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "no_session_echo", noSessionUnbuffered)
	b := c.Browser()
	onForm := `document.body !== null && location.pathname === "/index.php" && document.querySelector("button") !== null && document.body.innerText.includes("not logged in")`
	b.Navigate(c.URL("shop", "/index.php"))
	for range 2 {
		browsertest.Eval[bool](b, `(document.body.dataset.attempt = "pending", true)`)
		b.Do(chromedp.Click(chromedp.CSS(`button`)))
		// The click leaves this document (its marker goes) and the scripts bring the
		// browser back to a fresh login form.
		b.WaitJS("back on the login form after the attempt", onForm+` && document.body.dataset.attempt === undefined`)
	}
	var paths []string
	for _, r := range b.Responses() {
		paths = append(paths, r.URL[strings.LastIndex(r.URL, "/"):])
	}
	if got, want := strings.Join(paths, " "), "/index.php /login.php /dashboard.php /index.php /login.php /dashboard.php /index.php"; got != want {
		t.Fatalf("the browser loaded %s, want %s", got, want)
	}
	c.W.waitFor("the no-session finding", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "no-session" })
	c.W.waitFor("the login loop", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "login-loop" })

	live := c.Stop()
	onlyRules(t, "live", live, "no-session", "login-loop")
	ns := assertNoSession(t, "live", live, model.SeverityError)
	if !strings.Contains(ns.Detail, "a script or a meta refresh") {
		t.Errorf("live: no-session does not tell the script redirect's story: %s", ns.Detail)
	}
	checkLoopCause(t, "live", live, ns.ID)

	har := c.Analyze()
	onlyRules(t, "analyze", har, "no-session", "login-loop", "sanitized-har")
	hns := assertNoSession(t, "analyze", har, model.SeverityWarning)
	checkLoopCause(t, "analyze", har, hns.ID)
	noSanitizedClaim(t, har)
}

// checkLoopCause: the script loop is a login-loop finding (the dashboard sent the
// browser back to the form by script) that names no-session as its root cause.
func checkLoopCause(t *testing.T, where string, fs []model.Finding, noSessionID string) {
	t.Helper()
	for _, f := range fs {
		if f.Rule != "login-loop" {
			continue
		}
		if !strings.Contains(f.Detail, "Root cause: no-session") || !strings.Contains(f.Detail, noSessionID) {
			t.Errorf("%s: the login loop does not name no-session (%s) as its root cause: %s", where, noSessionID, f.Detail)
		}
		if !strings.Contains(f.Detail, "by itself (a script or a meta refresh)") {
			t.Errorf("%s: the login loop does not say the page redirected by script: %s", where, f.Detail)
		}
		return
	}
	t.Errorf("%s: no login-loop finding for the script loop:\n%s", where, describeFindings(fs))
}

// TestPHP8NoSessionFixedTwin: the same app with config.php saved without the BOM
// logs in and out normally, and yields no finding, live or from the HAR.
func TestPHP8NoSessionFixedTwin(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "no_session_bom_fixed", noSessionUnbuffered)
	b := c.Browser()
	b.Navigate(c.URL("shop", "/index.php"))
	if resp := b.Load(chromedp.Click(chromedp.CSS(`button`))); resp == nil || !strings.HasSuffix(resp.URL, "/dashboard.php") || resp.Status != 200 {
		t.Fatalf("the login landed on %+v, want the dashboard", resp)
	}
	b.Navigate(c.URL("shop", "/logout.php"))
	c.W.waitFor("the logout's destroyed event", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindDestroyed
	})
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}
