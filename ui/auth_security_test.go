package ui

// Attacks on the dashboard's credentials (issue: the login cookie reaches other
// services and replays, token brute force, open redirect after login), each
// reproduced as reported against the real server on a loopback port.

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

const goodToken = "correct-horse-battery-staple"

// lockedBuffer is a log sink the server writes from its goroutines while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServerEdited is startServer with edit applied to the server before it serves.
func startServerEdited(t *testing.T, cfg Config, src handlers.Source, edit func(*Server)) *started {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ln.Addr().String()
	srv, err := New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	edit(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	uitest.WaitFor(t, "hub running", srv.hub.Running)
	return &started{srv: srv, addr: ln.Addr().String(), base: "http://" + ln.Addr().String()}
}

func postLogin(t *testing.T, base, token, next string, opts ...reqOpt) (*http.Response, string) {
	t.Helper()
	form := url.Values{"token": {token}, "next": {next}}
	opts = append(opts, withHeader("Content-Type", "application/x-www-form-urlencoded"))
	return do(t, http.MethodPost, base+"/login", strings.NewReader(form.Encode()), opts...)
}

func loginCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, CookiePrefix) {
			return c
		}
	}
	t.Fatalf("no login cookie in %v (status %d)", resp.Header["Set-Cookie"], resp.StatusCode)
	return nil
}

// TestLoginCookieScopedAndRevoked: the cookie's name carries the dashboard's port, it
// has a Max-Age, holds neither the token nor anything derived from it, and a copy
// taken before logout (from a HAR, say) is refused after logout.
func TestLoginCookieScopedAndRevoked(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{Token: goodToken}, env.In)
	_, port, _ := net.SplitHostPort(s.addr)

	resp, _ := postLogin(t, s.base, goodToken, "/findings")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	c := loginCookie(t, resp)
	if want := "sessionscope_auth_" + port; c.Name != want {
		t.Errorf("cookie name %q, want %q (the dashboard's port)", c.Name, want)
	}
	if c.MaxAge != 12*3600 {
		t.Errorf("cookie Max-Age %d, want %d", c.MaxAge, 12*3600)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie attributes %+v", c)
	}
	if strings.Contains(c.Value, goodToken) || len(c.Value) < 32 {
		t.Errorf("cookie value %q: want a long random id", c.Value)
	}

	// A second login gets another id: the cookie is not derived from the token.
	resp2, _ := postLogin(t, s.base, goodToken, "/")
	if other := loginCookie(t, resp2); other.Value == c.Value {
		t.Error("two logins got the same cookie value")
	}

	captured := &http.Cookie{Name: c.Name, Value: c.Value}
	if resp, body := do(t, http.MethodGet, s.base+"/api/status", nil, withCookie(captured)); resp.StatusCode != 200 {
		t.Fatalf("before logout, the cookie gets %d: %s", resp.StatusCode, body)
	}
	// The cookie under the old, portless name is nothing.
	if resp, _ := do(t, http.MethodGet, s.base+"/api/status", nil, withCookie(&http.Cookie{Name: CookiePrefix, Value: c.Value})); resp.StatusCode != 401 {
		t.Errorf("the id under another name gets %d, want 401", resp.StatusCode)
	}

	resp, _ = do(t, http.MethodPost, s.base+"/logout", nil, withCookie(captured), withHeader("Origin", s.base))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: status %d", resp.StatusCode)
	}
	var cleared bool
	for _, k := range resp.Cookies() {
		cleared = cleared || (k.Name == c.Name && k.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("logout does not clear the cookie: %v", resp.Header["Set-Cookie"])
	}

	// The HAR replay: the captured cookie, sent again after logout.
	if resp, _ := do(t, http.MethodGet, s.base+"/api/status", nil, withCookie(captured)); resp.StatusCode != 401 {
		t.Errorf("after logout, the captured cookie gets %d from the API, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, http.MethodGet, s.base+"/sessions", nil, withCookie(captured)); resp.StatusCode != http.StatusSeeOther ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("after logout, the captured cookie gets %d %q for a page, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The other login is untouched.
	if resp, _ := do(t, http.MethodGet, s.base+"/api/status", nil, withCookie(loginCookie(t, resp2))); resp.StatusCode != 200 {
		t.Errorf("logging one browser out ended another's login: %d", resp.StatusCode)
	}
}

// TestLoginExpires: a login is refused once its Max-Age has passed on the server's
// clock, whatever the browser does with the cookie.
func TestLoginExpires(t *testing.T) {
	t.Parallel()
	a := newTokenAuth(goodToken, slog.New(slog.NewTextHandler(io.Discard, nil)), func() string { return "7070" })
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:7070/login", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	c, _ := a.LogIn(r, goodToken)
	if c == nil || c.Name != "sessionscope_auth_7070" {
		t.Fatalf("login cookie %+v", c)
	}
	get, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:7070/", nil)
	get.AddCookie(c)
	if ok, _ := a.authorize(get); !ok {
		t.Fatal("a fresh login is refused")
	}
	now = now.Add(LoginMaxAge - time.Second)
	if ok, _ := a.authorize(get); !ok {
		t.Error("a login is refused before its Max-Age")
	}
	now = now.Add(time.Second)
	if ok, _ := a.authorize(get); ok {
		t.Error("a login is accepted after its Max-Age")
	}
}

// TestWrongTokensThrottled: 20 wrong tokens from one address in a burst. The first
// ones get 401, then every attempt gets 429 with Retry-After, the right token
// included; each failure is logged with the address and never with the token; another
// address is not affected.
func TestWrongTokensThrottled(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	var logs lockedBuffer
	// The clock stands still, so a slow machine cannot see a lockout end mid-burst.
	frozen := time.Now()
	s := startServerEdited(t, Config{Token: goodToken, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, env.In,
		func(srv *Server) { srv.auth.now = func() time.Time { return frozen } })

	var codes []int
	var wrong []string
	for i := range 20 {
		tok := "wrong-guess-" + strconv.Itoa(1000+i)
		wrong = append(wrong, tok)
		resp, body := postLogin(t, s.base, tok, "/")
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests {
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("attempt %d: Retry-After %q", i+1, resp.Header.Get("Retry-After"))
			}
			if !strings.Contains(body, "Too many wrong tokens") {
				t.Errorf("attempt %d: the 429 page does not say why", i+1)
			}
		}
	}
	for i, code := range codes {
		want := http.StatusUnauthorized
		if i >= freeFailures {
			want = http.StatusTooManyRequests
		}
		if code != want {
			t.Errorf("attempt %d: status %d, want %d (all: %v)", i+1, code, want, codes)
		}
	}
	// Locked out, even the right token is not checked, by the form or as a bearer.
	if resp, _ := postLogin(t, s.base, goodToken, "/"); resp.StatusCode != http.StatusTooManyRequests || len(resp.Cookies()) != 0 {
		t.Errorf("right token while locked out: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := do(t, http.MethodGet, s.base+"/api/status", nil, withHeader("Authorization", "Bearer wrong-bearer-guess")); resp.StatusCode != http.StatusTooManyRequests ||
		resp.Header.Get("Retry-After") == "" {
		t.Errorf("bearer while locked out: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// Another address (127.0.0.2 is loopback too) still logs in.
	other := &http.Client{
		CheckRedirect: noRedirect.CheckRedirect,
		Transport:     &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext},
	}
	form := url.Values{"token": {goodToken}, "next": {"/"}}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("another address logging in: status %d, want 303", resp.StatusCode)
	}

	out := logs.String()
	if n := strings.Count(out, "dashboard login failed"); n != freeFailures {
		t.Errorf("%d failures logged, want %d:\n%s", n, freeFailures, out)
	}
	if !strings.Contains(out, "dashboard login throttled") {
		t.Errorf("the lockout is not logged:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, "dashboard login") && !strings.Contains(line, "client=127.0.0.1") {
			t.Errorf("log line without the client address: %s", line)
		}
	}
	for _, tok := range append(wrong, goodToken, "wrong-bearer-guess") {
		if strings.Contains(out, tok) {
			t.Errorf("the log holds a submitted token %q", tok)
		}
	}
}

// TestThrottleBackoff: the lockout doubles with each wrong token after it ends, stops
// at its cap, forgets an address after a right token, and the table stays bounded.
func TestThrottleBackoff(t *testing.T) {
	t.Parallel()
	th := newFailureThrottle()
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := 1; i < freeFailures; i++ {
		if _, lock := th.failed("a", now); lock != 0 {
			t.Fatalf("failure %d locked out for %s", i, lock)
		}
	}
	want := firstLockout
	var got []time.Duration
	for range 12 {
		if wait, _ := th.blocked("a", now); wait != 0 {
			t.Fatalf("still blocked for %s after the lockout ended", wait)
		}
		_, lock := th.failed("a", now)
		if lock != want {
			t.Errorf("lockout %s, want %s (so far %v)", lock, want, got)
		}
		got = append(got, lock)
		if wait, first := th.blocked("a", now); wait != lock || !first {
			t.Errorf("blocked %s (first %v), want %s", wait, first, lock)
		}
		if _, first := th.blocked("a", now); first {
			t.Error("the same lockout reported twice")
		}
		now = now.Add(lock)
		want = min(want*2, maxLockout)
	}
	if got[len(got)-1] != maxLockout {
		t.Errorf("lockouts %v never reach the cap %s", got, maxLockout)
	}
	th.succeeded("a")
	if _, lock := th.failed("a", now); lock != 0 {
		t.Errorf("after a right token, one failure locks out for %s", lock)
	}
	for i := range maxThrottled + 50 {
		th.failed("addr-"+strconv.Itoa(i), now.Add(time.Duration(i)))
	}
	if n := len(th.clients); n > maxThrottled {
		t.Errorf("%d addresses tracked, want at most %d", n, maxThrottled)
	}
}

// TestLoginNextStaysLocal: next can only be a path on this dashboard. The reported
// attack, next=/%09/127.0.0.2:17272/phish, gave Location: /\t/127.0.0.2..., which a
// browser reads as //127.0.0.2.
func TestLoginNextStaysLocal(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{Token: goodToken}, env.In)
	for _, tc := range []struct{ next, want string }{
		{"/\t/127.0.0.2:17272/phish", "/"},
		{"/\n/evil.example", "/"},
		{"/\r\nSet-Cookie: x=1", "/"},
		{"//evil.example/", "/"},
		{"///evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{" /findings", "/"},
		{"/\x00x", "/"},
		{"/sessions\u3000x", "/"},
		{"evil.example", "/"},
		{"", "/"},
		{"/findings", "/findings"},
		{"/sessions/abc123?q=a%20b#row", "/sessions/abc123?q=a%20b#row"},
	} {
		t.Run(strconv.Quote(tc.next), func(t *testing.T) {
			resp, _ := postLogin(t, s.base, goodToken, tc.next)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || loc != tc.want {
				t.Errorf("next %q: status %d, Location %q, want %q", tc.next, resp.StatusCode, loc, tc.want)
			}
			u, err := url.Parse(s.base + "/login")
			if err != nil {
				t.Fatal(err)
			}
			if target, err := u.Parse(loc); err != nil || target.Host != u.Host {
				t.Errorf("Location %q resolves to %v", loc, target)
			}
		})
	}
	// The raw query of the report, through the login form's hidden field.
	resp, body := do(t, http.MethodGet, s.base+"/login?next=/%09/127.0.0.2:17272/phish", nil)
	if resp.StatusCode != 200 || strings.Contains(body, "127.0.0.2") {
		t.Errorf("the login form carries the foreign next: status %d", resp.StatusCode)
	}
}
