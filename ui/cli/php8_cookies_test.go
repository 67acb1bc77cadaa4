package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// The cookie cases of php8/cookies: cookies that share a name but not a Domain or
// Path (two session cookies in every request; an expiry that names the wrong one),
// and a SameSite=Strict cookie on a cross-site return over plain http. Each runs in
// real Chromium through watch's proxy, is checked live and from the proxy's HAR, and
// has a fixed twin that yields nothing.

// cookiesPrependFix is the php.ini setting that runs one of php8/cookies' fix files before
// every page.
func cookiesPrependFix(t *testing.T, file string) string {
	return "auto_prepend_file=" + filepath.Join(traffictest.AppDir(t, filepath.Join("php8", "cookies")), file)
}

// cookiesLogin submits the index page's form and returns where the browser landed.
func cookiesLogin(t *testing.T, c *php8Case, b *browsertest.Browser, host string) string {
	t.Helper()
	b.Navigate(c.URL(host, "/index.php"))
	resp := b.Load(chromedp.Click(chromedp.CSS(`button`)))
	if resp == nil {
		t.Fatal("the login click loaded no document")
	}
	return resp.URL
}

// cookiesWaitFinding waits until watch printed a finding of rule.
func cookiesWaitFinding(c *php8Case, rule string) {
	c.t.Helper()
	c.W.waitFor("a "+rule+" finding", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == rule })
}

// cookiesCheckText fails when a finding's text lacks one of want or holds one of banned.
func cookiesCheckText(t *testing.T, where string, f model.Finding, want, banned []string) {
	t.Helper()
	text := f.Title + "\n" + f.Detail + "\n" + f.Fix
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: %s finding lacks %q:\n%s", where, f.Rule, w, text)
		}
	}
	for _, b := range banned {
		if strings.Contains(text, b) {
			t.Errorf("%s: %s finding says %q, which is wrong here:\n%s", where, f.Rule, b, text)
		}
	}
}

// cookiesLoopRootCause checks that the login-loop finding names rule as its root cause and
// not the store-side guess.
func cookiesLoopRootCause(t *testing.T, where, rule string, fs []model.Finding) {
	t.Helper()
	loop := findingOf(t, where, "login-loop", fs)
	cookiesCheckText(t, where, loop, []string{"Root cause: " + rule}, []string{"not visible from the HTTP side", "session_write_close"})
}

// TestPHP8DuplicateCookieDomainChange: a user who visited while the session cookie
// was host-only keeps that cookie when the app sets session.cookie_domain; each
// request then carries two PHPSESSID cookies, PHP reads the old one, and the login
// never sticks. The fix twin expires the host-only cookie with its exact attributes.
func TestPHP8DuplicateCookieDomainChange(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies", "session.cookie_domain=shop.localhost")
	b := c.Browser()
	b.Navigate(c.URL("shop", "/old.php"))
	for i := 0; i < 2; i++ {
		if landed := cookiesLogin(t, c, b, "shop"); !strings.HasSuffix(landed, "/index.php") {
			t.Fatalf("login %d landed on %s: the stale host-only cookie should have sent it back to the login page", i+1, landed)
		}
	}
	cookiesWaitFinding(c, "duplicate-cookie")
	cookiesWaitFinding(c, "login-loop")
	want := []string{"2 cookies named PHPSESSID", "host-only shop.localhost; Path=/", "Domain=shop.localhost; Path=/",
		"here the first one, host-only shop.localhost; Path=/",
		"Set-Cookie: PHPSESSID=; Path=/; Secure; Max-Age=0", "setcookie('PHPSESSID', '', ['expires' => 1, 'path' => '/', 'secure' => true])"}
	banned := []string{"session_write_close", "'domain' => 'shop.localhost', 'secure'"}
	for _, run := range []struct {
		where string
		fs    func() []model.Finding
	}{{"live", c.Stop}, {"analyze", c.Analyze}} {
		fs := run.fs()
		cookiesCheckText(t, run.where, findingOf(t, run.where, "duplicate-cookie", fs), want, banned)
		cookiesLoopRootCause(t, run.where, "duplicate-cookie", fs)
	}
}

// TestPHP8DuplicateCookieDomainChangeFixed: the same history with the host-only
// cookie expired on every response: one cookie, a login that sticks, no finding.
func TestPHP8DuplicateCookieDomainChangeFixed(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies", "session.cookie_domain=shop.localhost", cookiesPrependFix(t, "expire_hostonly.php"))
	b := c.Browser()
	// Two visits before the change: the second keeps its session, so the fresh ids
	// that follow (the move to the Domain cookie, the login) are two in a row, as in
	// any login, not a streak of three.
	b.Navigate(c.URL("shop", "/old.php"))
	b.Navigate(c.URL("shop", "/old.php"))
	if landed := cookiesLogin(t, c, b, "shop"); !strings.HasSuffix(landed, "/dashboard.php") {
		t.Fatalf("the login landed on %s, want the dashboard", landed)
	}
	b.Navigate(c.URL("shop", "/logout.php"))
	c.W.waitFor("the logout's destroyed event", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindDestroyed
	})
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}

// TestPHP8DuplicateCookieTossed: a page on a sibling subdomain plants PHPSESSID for
// the whole parent domain before the user logs in; the planted cookie is older, so
// it comes first, PHP reads it, and the login never sticks.
func TestPHP8DuplicateCookieTossed(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies")
	b := c.Browser()
	b.Navigate(c.URL("evil.shop", "/evil.php"))
	for i := 0; i < 2; i++ {
		if landed := cookiesLogin(t, c, b, "shop"); !strings.HasSuffix(landed, "/index.php") {
			t.Fatalf("login %d landed on %s: the planted cookie should have sent it back to the login page", i+1, landed)
		}
	}
	cookiesWaitFinding(c, "duplicate-cookie")
	cookiesWaitFinding(c, "login-loop")
	want := []string{"2 cookies named PHPSESSID", "here the first one, Domain=shop.localhost; Path=/",
		"set by another host, evil.shop.localhost", "__Host-",
		"Set-Cookie: PHPSESSID=; Path=/; Domain=shop.localhost; Secure; Max-Age=0",
		"setcookie('PHPSESSID', '', ['expires' => 1, 'path' => '/', 'domain' => 'shop.localhost', 'secure' => true])"}
	for _, run := range []struct {
		where string
		fs    func() []model.Finding
	}{{"live", c.Stop}, {"analyze", c.Analyze}} {
		fs := run.fs()
		cookiesCheckText(t, run.where, findingOf(t, run.where, "duplicate-cookie", fs), want, []string{"session_write_close"})
		cookiesLoopRootCause(t, run.where, "duplicate-cookie", fs)
	}
}

// TestPHP8DuplicateCookieTossedFixed: the app expires a parent-domain PHPSESSID on
// every response, so the planted cookie is gone before the login: no finding.
func TestPHP8DuplicateCookieTossedFixed(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies", cookiesPrependFix(t, "expire_tossed.php"))
	b := c.Browser()
	// The planted cookie is set twice with one value: the server issuing ids on
	// evil.shop.localhost is not the start of a streak of fresh ids on the shop.
	b.Navigate(c.URL("evil.shop", "/evil.php"))
	b.Navigate(c.URL("evil.shop", "/evil.php"))
	if landed := cookiesLogin(t, c, b, "shop"); !strings.HasSuffix(landed, "/dashboard.php") {
		t.Fatalf("the login landed on %s, want the dashboard", landed)
	}
	b.Navigate(c.URL("shop", "/logout.php"))
	c.W.waitFor("the logout's destroyed event", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindDestroyed
	})
	noFindings(t, "live", withoutTosserFlags(c.Stop()))
	noFindings(t, "analyze", withoutTosserFlags(c.Analyze()))
}

// withoutTosserFlags drops cookie-flags' note on the planted cookie's Domain: the
// sibling subdomain is the attacker, which the fixed app cannot change; the app's
// own cookie must still draw nothing.
func withoutTosserFlags(fs []model.Finding) []model.Finding {
	var out []model.Finding
	for _, f := range fs {
		if f.Rule == "cookie-flags" && strings.Contains(f.Detail, "evil.shop.localhost:") && strings.Contains(f.Detail, "/evil.php sets the session cookie") {
			continue
		}
		out = append(out, f)
	}
	return out
}

// cookiesSSOLogin posts idp.localhost's form back to the shop's login and returns where the
// browser landed. idp.localhost and shop.localhost are different sites (each is its
// own registrable domain), both over plain http.
func cookiesSSOLogin(t *testing.T, c *php8Case, b *browsertest.Browser) string {
	t.Helper()
	b.Navigate(c.URL("idp", "/idp.php"))
	resp := b.Load(chromedp.Click(chromedp.CSS(`button`)))
	if resp == nil {
		t.Fatal("the identity provider's form loaded no document")
	}
	return resp.URL
}

// TestPHP8SameSiteStrictCrossSiteHTTP: a SameSite=Strict session cookie is not sent
// on the redirect that follows a cross-site login POST. Chromium's DevTools labels
// that SchemefulSameSiteStrict on a plain-http page, but the sites differ by host,
// not by scheme: the finding says cross-site and gives no https advice.
func TestPHP8SameSiteStrictCrossSiteHTTP(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies", "session.cookie_samesite=Strict")
	b := c.Browser()
	for i := 0; i < 2; i++ {
		if landed := cookiesSSOLogin(t, c, b); !strings.HasSuffix(landed, "/index.php") {
			t.Fatalf("login %d landed on %s: the Strict cookie should have been held back", i+1, landed)
		}
	}
	cookiesWaitFinding(c, "cookie-not-sent")
	cookiesWaitFinding(c, "login-loop")
	want := []string{"(SameSiteStrict)", "came from another site (http://idp.localhost:", "SameSite=Lax"}
	banned := []string{"http and https of the same site", "Serve the whole site over https", "(SchemefulSameSiteStrict)"}
	for _, run := range []struct {
		where string
		fs    func() []model.Finding
	}{{"live", c.Stop}, {"analyze", c.Analyze}} {
		fs := run.fs()
		cookiesCheckText(t, run.where, findingOf(t, run.where, "cookie-not-sent", fs), want, banned)
		cookiesLoopRootCause(t, run.where, "cookie-not-sent (SameSiteStrict", fs)
	}
}

// TestPHP8SameSiteLaxCrossSiteHTTP: the same return with SameSite=Lax: the redirect
// after the cross-site POST is a top-level GET, the cookie goes with it, no finding.
func TestPHP8SameSiteLaxCrossSiteHTTP(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies")
	b := c.Browser()
	if landed := cookiesSSOLogin(t, c, b); !strings.HasSuffix(landed, "/dashboard.php") {
		t.Fatalf("the login landed on %s, want the dashboard", landed)
	}
	b.Navigate(c.URL("shop", "/logout.php"))
	c.W.waitFor("the logout's destroyed event", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindDestroyed
	})
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}

// TestPHP8LogoutClearsWrongCookie: the session cookie has Domain=shop.localhost; the
// logout expires PHPSESSID without a Domain, which names another cookie, and keeps
// the session: the browser still sends the old cookie and the user stays logged in.
func TestPHP8LogoutClearsWrongCookie(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies", "session.cookie_domain=shop.localhost")
	b := c.Browser()
	if landed := cookiesLogin(t, c, b, "shop"); !strings.HasSuffix(landed, "/dashboard.php") {
		t.Fatalf("the login landed on %s, want the dashboard", landed)
	}
	b.Navigate(c.URL("shop", "/logout_nodomain.php"))
	if resp := b.Navigate(c.URL("shop", "/dashboard.php")); resp == nil || !strings.HasSuffix(resp.URL, "/dashboard.php") || resp.Status != 200 {
		t.Fatalf("after the logout the dashboard answered %+v: the user should still be logged in", resp)
	}
	cookiesWaitFinding(c, "cookie-not-cleared")
	cookiesWaitFinding(c, "logout-not-destroyed")
	fix := "setcookie(session_name(), '', ['expires' => 1, 'path' => '/', 'domain' => 'shop.localhost', 'secure' => true])"
	live := c.Stop()
	cookiesCheckText(t, "live", findingOf(t, "live", "logout-not-destroyed", live),
		[]string{"Logout neither cleared the cookie nor destroyed the session", "tried to expire the PHPSESSID cookie with a Set-Cookie for host-only", "'domain' => $p['domain']"},
		[]string{"setcookie(session_name(), '', 1, '/')"})
	notCleared := []string{"tried to clear PHPSESSID but the browser kept it", "Domain=shop.localhost; Path=/", fix}
	cookiesCheckText(t, "live", findingOf(t, "live", "cookie-not-cleared", live), notCleared, nil)
	cookiesCheckText(t, "analyze", findingOf(t, "analyze", "cookie-not-cleared", c.Analyze()), notCleared, nil)
}

// TestPHP8LogoutClearsDomainCookie: the healthy logout with the same Domain cookie
// expires it with its Domain and destroys the session: no finding.
func TestPHP8LogoutClearsDomainCookie(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "cookies", "session.cookie_domain=shop.localhost")
	b := c.Browser()
	if landed := cookiesLogin(t, c, b, "shop"); !strings.HasSuffix(landed, "/dashboard.php") {
		t.Fatalf("the login landed on %s, want the dashboard", landed)
	}
	b.Navigate(c.URL("shop", "/logout.php"))
	c.W.waitFor("the logout's destroyed event", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindDestroyed
	})
	if resp := b.Navigate(c.URL("shop", "/dashboard.php")); resp == nil || !strings.HasSuffix(resp.URL, "/index.php") {
		t.Fatalf("after the logout the dashboard answered %+v: it should send the user to log in", resp)
	}
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}
