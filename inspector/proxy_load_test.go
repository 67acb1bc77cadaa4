package inspector_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// The live HTTP-side rules stay right under load: a login loop in one browser among
// 63 busy ones is found, and the busy ones alone give no login finding. The app
// behind the proxy is configured for app.example.com (its session cookie says
// Domain=app.example.com): the busy browsers use that name, the looping one reaches
// the app by its IP address, so its browser refuses the cookie and every login sends
// it back to the login page.

const (
	loadAppHost    = "app.example.com"
	busyBrowsers   = 63
	busyPageLoads  = 120 // each busy browser's page loads after its login
	loopAttempts   = 40  // the looping browser's logins
	loadTestBudget = 2 * time.Minute
)

// loginApp is a session app: a login form, a login that starts a session, and a
// dashboard that needs one (and refreshes its cookie, as a rolling session does).
type loginApp struct {
	mu       sync.Mutex
	sessions map[string]bool
}

func (a *loginApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSession := func(id string) {
		http.SetCookie(w, &http.Cookie{Name: "PHPSESSID", Value: id, Path: "/", Domain: loadAppHost, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	switch {
	case r.URL.Path == "/login" && r.Method == http.MethodPost:
		var b [16]byte
		_, _ = rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		a.mu.Lock()
		a.sessions[id] = true
		a.mu.Unlock()
		setSession(id)
		http.Redirect(w, r, "/dashboard", http.StatusFound)
	case r.URL.Path == "/login":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><form method="post" action="/login"><input name="user"><input type="password" name="password"><button>Sign in</button></form>`)
	case r.URL.Path == "/dashboard":
		c, err := r.Cookie("PHPSESSID")
		a.mu.Lock()
		ok := err == nil && a.sessions[c.Value]
		a.mu.Unlock()
		if !ok {
			http.Redirect(w, r, "/login", http.StatusFound)
			return
		}
		setSession(c.Value)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><h1>Dashboard</h1>"+strings.Repeat("<p>Your orders.</p>", 20))
	default:
		http.NotFound(w, r)
	}
}

// loadBrowser is a browser: its own cookie jar (net/http/cookiejar refuses a cookie
// for another domain, as a browser does) and User-Agent; host names resolve to the
// proxy.
type loadBrowser struct {
	base, ua string
	c        *http.Client
}

func newLoadBrowser(t *testing.T, proxyAddr, base, ua string) *loadBrowser {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{}
	tr := &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, proxyAddr) // app.example.com is the proxy, as DNS would have it
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &loadBrowser{base: base, ua: ua, c: &http.Client{Jar: jar, Transport: tr}}
}

// do sends one request, follows redirects as a browser does (net/http stops after
// 10), and returns the final response's status and path.
func (b *loadBrowser) do(method, path string, form url.Values) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", b.ua)
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Request.URL.Path, nil
}

// login opens the dashboard, is sent to the login form, and signs in.
func (b *loadBrowser) login() error {
	if _, _, err := b.do(http.MethodGet, "/dashboard", nil); err != nil {
		return err
	}
	_, _, err := b.do(http.MethodPost, "/login", url.Values{"user": {"ada"}, "password": {"secret"}})
	return err
}

// runProxyLoad puts the app behind a capturing proxy watched by a fresh inspector,
// runs the busy browsers (and the looping one when loop is set) until they are done,
// waits until the inspector has settled, and returns its findings.
func runProxyLoad(t *testing.T, loop bool) []model.Finding {
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	app := httptest.NewServer(&loginApp{sessions: map[string]bool{}})
	t.Cleanup(app.Close)
	proxy := proxyFor(t, h, false, app.URL)
	proxyAddr := strings.TrimPrefix(proxy, "http://")
	_, port, _ := net.SplitHostPort(proxyAddr)

	ctx, cancel := context.WithTimeout(context.Background(), loadTestBudget)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, busyBrowsers+1)
	var loggedIn sync.WaitGroup
	loggedIn.Add(busyBrowsers)
	for i := 0; i < busyBrowsers; i++ {
		b := newLoadBrowser(t, proxyAddr, "http://"+net.JoinHostPort(loadAppHost, port), fmt.Sprintf("Mozilla/5.0 busy-%02d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.login()
			loggedIn.Done()
			if err != nil {
				errs <- fmt.Errorf("%s: login: %w", b.ua, err)
				return
			}
			for n := 0; n < busyPageLoads && ctx.Err() == nil; n++ {
				status, path, err := b.do(http.MethodGet, "/dashboard", nil)
				if err != nil || status != http.StatusOK || path != "/dashboard" {
					errs <- fmt.Errorf("%s: dashboard %d: status %d at %s, %v", b.ua, n, status, path, err)
					return
				}
			}
		}()
	}
	if loop {
		// By its IP address: the app's cookie is for app.example.com, so never stored.
		b := newLoadBrowser(t, proxyAddr, proxy, "Mozilla/5.0 looping")
		wg.Add(1)
		go func() {
			defer wg.Done()
			loggedIn.Wait() // loop while the others are busy
			for n := 0; n < loopAttempts && ctx.Err() == nil; n++ {
				if err := b.login(); err != nil {
					errs <- fmt.Errorf("looping browser: %w", err)
					return
				}
			}
			if _, path, err := b.do(http.MethodGet, "/dashboard", nil); err != nil || path != "/login" {
				errs <- fmt.Errorf("looping browser ended at %q (%v), want the login page: the test app does not loop", path, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	trackertest.Eventually(t, "settled inspector", loadTestBudget, func() (bool, string) {
		ok, err := h.in.Settled(ctx)
		return ok && err == nil, fmt.Sprintf("settled %v, %v", ok, err)
	})
	return h.in.Findings()
}

func TestProxyLoadLoginLoopAmongBusyClients(t *testing.T) {
	fs := runProxyLoad(t, true)
	var loop *model.Finding
	for i, f := range fs {
		if f.Rule == "login-loop" {
			loop = &fs[i]
		}
	}
	if loop == nil {
		t.Fatalf("no login-loop among 63 busy browsers and one looping; findings %v", rules(fs))
	}
	// The first loops are published as they happen; the later ones, once the busy
	// browsers have drawn the replay budget down, by the deferred replays.
	if loop.Count < loopAttempts/2 {
		t.Errorf("login-loop counts %d loops of the looping browser's %d logins: the later replays' updates were not published", loop.Count, loopAttempts)
	}
	if !hasRule(fs, "cookie-rejected") {
		t.Errorf("no cookie-rejected for the Domain the looping browser refuses; findings %v", rules(fs))
	}
	for _, ev := range loop.Evidence {
		if strings.Contains(ev, loadAppHost+":") {
			t.Errorf("login-loop cites a busy browser's request: %q", ev)
		}
	}
}

func TestProxyLoadBusyClientsNoFinding(t *testing.T) {
	fs := runProxyLoad(t, false)
	for _, f := range fs {
		switch f.Rule {
		case "login-loop", "cookie-rejected", "cookie-not-sent", "cookie-missing", "session-id-in-url", "weak-session-id":
			t.Errorf("busy healthy browsers gave %s: %s", f.Rule, f.Detail)
		}
	}
}
