package diagnose_test

import (
	"github.com/chromedp/chromedp"
)

type appKind int

const (
	appPHP      appKind = iota // testdata/apps/php, sessions in phpredis
	appNode                    // testdata/apps/node/app.js, express-session + connect-redis
	appRedirect                // testdata/apps/node/redirect.js, a hand-written redirect
)

// scenario is one golden file: an app configured to break (or its fixed twin) and
// what a user does in the browser.
type scenario struct {
	name string   // the golden file, without .har
	app  appKind  // which test app
	ini  []string // PHP settings over phpClean; {port} is the proxy's port
	// phpDefaults starts from PHP's own cookie defaults (no HttpOnly, no SameSite,
	// not Secure) instead of phpClean.
	phpDefaults bool
	env         []string // environment of redirect.js
	// lan serves the proxy on a non-loopback address (skipped without one), where
	// Chromium does not treat plain http as a secure context; tls adds an https port.
	lan, tls bool
	flow     func(s *session)
	want     []string // the rule ids the capture yields, sorted
}

// phpClean is a PHP session configuration no rule objects to: Chromium treats
// http://127.0.0.1 and http://*.localhost as secure contexts, so Secure cookies work
// there over plain http.
var phpClean = []string{
	"session.cookie_httponly=1",
	"session.cookie_samesite=Lax",
	"session.cookie_secure=1",
	"session.use_strict_mode=1",
}

// Hosts the browser uses. Chromium resolves localhost and every *.localhost name to
// loopback itself, so one proxy on 127.0.0.1 serves them all, and they are different
// hosts (and sites) to its cookie jar.
const (
	hostIP    = "127.0.0.1"
	hostLogin = "login.shop.localhost"
	hostApp   = "app.shop.localhost"
)

// phpLogin is the PHP login a user tries: the login form, a look at the dashboard
// before logging in, then the form submitted — and once more when the browser does not
// land on the dashboard. On the dashboard, the user reloads it once. form is the form
// page's path; the dashboard may be on another host (signin.php's redirect).
func phpLogin(host, form string) func(s *session) {
	return func(s *session) {
		s.open(host, form)
		s.click(`[data-testid="dashboard-link"]`)
		for attempt := 0; attempt < 2; attempt++ {
			s.open(host, form)
			u := s.click(`[data-testid="login"]`)
			if u.Path == "/dashboard.php" {
				s.do("reload the dashboard", chromedp.Reload())
				return
			}
		}
	}
}

// helpThenLogin: the login form, its help page, the partner site linked from there
// (cross-site), the help page again (from history), its link to the login form (same
// site), and the login.
func helpThenLogin(s *session) {
	s.open(hostIP, "/form.php")
	help := s.click(`[data-testid="help-link"]`)
	s.click(`[data-testid="partner-link"]`)
	s.do("the help page again", chromedp.Navigate(help.String()))
	s.click(`[data-testid="login-link"]`)
	s.click(`[data-testid="login"]`)
}

// injectionLink is the classic response-splitting example ("?next_page=login\r\nSet-Cookie:
// sessionID=12345678") as a link an attacker sends. (No ";" in it: Go's ReverseProxy,
// and so sessionscope's proxy, drops query parameters that hold a raw semicolon.)
const injectionLink = "/go?next=/home%0d%0aSet-Cookie:%20sessionID=12345678"

func openInjectionLink(s *session) {
	s.open(hostIP, injectionLink)
	s.open(hostIP, "/home")
}

// weakIDVisitors is how many fresh sessions the weak-session-id scenarios start.
const weakIDVisitors = 110

// visitors has n visitors each load the start page twice: the first load starts a
// session, the second carries it back (so the capture is n new visitors, not one
// visitor losing the session every time).
func visitors(n int) func(s *session) {
	return func(s *session) {
		for range n {
			s.clearCookies()
			s.open(hostIP, "/index.php")
			s.open(hostIP, "/index.php")
		}
	}
}

var scenarios = []scenario{
	{
		// session.cookie_path=/admin: the cookie is stored but never sent outside
		// /admin, so the dashboard sees no session.
		name: "loop_path", app: appPHP, ini: []string{"session.cookie_path=/admin"},
		flow: phpLogin(hostIP, "/form.php"),
		want: []string{"cookie-not-sent", "login-loop"},
	},
	{
		name: "loop_path_fixed", app: appPHP, ini: []string{"session.cookie_path=/"},
		flow: phpLogin(hostIP, "/form.php"),
		want: []string{},
	},
	{
		// The developer opens the app at 127.0.0.1 while php.ini says
		// cookie_domain=localhost: Chromium refuses every session cookie.
		name: "loop_domain_invalid", app: appPHP, ini: []string{"session.cookie_domain=localhost"},
		flow: phpLogin(hostIP, "/form.php"),
		want: []string{"cookie-rejected", "login-loop"},
	},
	{
		name: "loop_domain_invalid_fixed", app: appPHP, ini: []string{"session.cookie_domain="},
		flow: phpLogin(hostIP, "/form.php"),
		want: []string{},
	},
	{
		// A subdomain hand-over: sign-in on login.shop.localhost sets a
		// host-only cookie and redirects to app.shop.localhost, which never gets it.
		name: "loop_domain_mismatch", app: appPHP,
		ini:  []string{"session.cookie_domain=", "sessionscope.after_login=http://" + hostApp + ":{port}/dashboard.php"},
		flow: phpLogin(hostLogin, "/form.php?to=signin"),
		want: []string{"cookie-not-sent", "login-loop"},
	},
	{
		// Fixed by serving the whole flow from one host, so the host-only cookie goes
		// wherever the user goes.
		name: "loop_domain_mismatch_fixed", app: appPHP,
		ini:  []string{"session.cookie_domain=", "sessionscope.after_login=http://" + hostApp + ":{port}/dashboard.php"},
		flow: phpLogin(hostApp, "/form.php?to=signin"),
		want: []string{},
	},
	{
		// The other fix, the parent Domain shop.localhost. It hands the id to every
		// subdomain, which cookie-flags reports — unless, as here, the capture shows
		// the session really spanning two of them.
		name: "loop_domain_mismatch_parent", app: appPHP,
		ini:  []string{"session.cookie_domain=shop.localhost", "sessionscope.after_login=http://" + hostApp + ":{port}/dashboard.php"},
		flow: phpLogin(hostLogin, "/form.php?to=signin"),
		want: []string{},
	},
	{
		// cookie_secure=1 (the usual advice) on a staging server reached over
		// plain http: off loopback, Chromium refuses the Secure cookie.
		name: "loop_secure_http", app: appPHP, lan: true,
		flow: phpLogin("{lan}", "/form.php"),
		want: []string{"cookie-rejected", "login-loop"},
	},
	{
		// Login over https, then a redirect to an http dashboard: the Secure cookie
		// stays behind (cookie-not-sent, SecureOnly), and the fresh Secure cookies the
		// http pages hand out are refused (cookie-rejected, SecureOnly).
		name: "loop_secure_downgrade", app: appPHP, lan: true, tls: true,
		ini:  []string{"sessionscope.after_login=http://{lan}:{port}/dashboard.php"},
		flow: phpLogin("https://{lan}", "/form.php?to=signin"),
		want: []string{"cookie-not-sent", "cookie-rejected", "login-loop"},
	},
	{
		name: "loop_secure_fixed", app: appPHP, lan: true, tls: true,
		ini:  []string{"sessionscope.after_login=https://{lan}:{tlsport}/dashboard.php"},
		flow: phpLogin("https://{lan}", "/form.php?to=signin"),
		want: []string{},
	},
	{
		// Trans-sid: with cookies optional, PHP writes the id into the page's links
		// on the first visit; the help page's URL then carries it, and so does the
		// Referer of the requests that leave that page.
		name: "sid_in_url", app: appPHP, ini: []string{"session.use_only_cookies=0", "session.use_trans_sid=1", "session.use_strict_mode=0"},
		flow: helpThenLogin,
		want: []string{"session-id-in-url"},
	},
	{
		name: "sid_in_url_fixed", app: appPHP, ini: []string{"session.use_only_cookies=1", "session.use_trans_sid=0"},
		flow: helpThenLogin,
		want: []string{},
	},
	{
		// PHP's own cookie defaults: no HttpOnly, no SameSite, not Secure.
		name: "cookie_flags", app: appPHP, phpDefaults: true,
		flow: phpLogin(hostIP, "/form.php"),
		want: []string{"cookie-flags"},
	},
	{
		name: "cookie_flags_fixed", app: appPHP,
		flow: phpLogin(hostIP, "/form.php"),
		want: []string{},
	},
	{
		// The user's profile and roles kept in a base64 JSON cookie (data that belongs on the server).
		name: "sensitive_data_in_cookie", app: appPHP, ini: []string{"sessionscope.roles_cookie=1"},
		flow: phpLogin(hostIP, "/form.php?to=signin"),
		want: []string{"sensitive-data-in-cookie"},
	},
	{
		name: "sensitive_data_in_cookie_fixed", app: appPHP, ini: []string{"sessionscope.roles_cookie=0"},
		flow: phpLogin(hostIP, "/form.php?to=signin"),
		want: []string{},
	},
	{
		// A response-splitting link: a redirect parameter carrying CR LF and a Set-Cookie.
		name: "header_injection", app: appRedirect,
		flow: openInjectionLink,
		want: []string{"header-injection"},
	},
	{
		name: "header_injection_fixed", app: appRedirect, env: []string{"SANITIZE=1"},
		flow: openInjectionLink,
		want: []string{},
	},
	{
		// session.sid_length=22 with 4 bits per character: 88 bits, hex ids. Many
		// visitors, so the ids' alphabet and length can be told.
		name: "weak_session_id", app: appPHP, ini: []string{"session.sid_length=22", "session.sid_bits_per_character=4"},
		flow: visitors(weakIDVisitors),
		want: []string{"weak-session-id"},
	},
	{
		name: "weak_session_id_fixed", app: appPHP, ini: []string{"session.sid_length=32", "session.sid_bits_per_character=5"},
		flow: visitors(weakIDVisitors),
		want: []string{},
	},
	{
		// express-session's login, logout included: the Node cookie mapping
		// (connect.sid=s:<id>.<signature>) on a healthy flow. The app keeps
		// express-session's cookie defaults, which set neither Secure nor SameSite
		// (cookie-flags, info).
		name: "express_login", app: appNode,
		flow: func(s *session) {
			s.open(hostIP, "/")
			s.eval(`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/login';
				const i = document.createElement('input'); i.name = 'user'; i.value = 'alice'; f.append(i);
				document.body.append(f); f.submit() })()`)
			s.open(hostIP, "/dashboard")
			s.open(hostIP, "/logout")
		},
		want: []string{"cookie-flags"},
	},
}
