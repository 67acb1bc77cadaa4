package ui_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/ui"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// TestBrowserDashboardCookieStaysOut: browsers ignore the port when they send
// cookies, so Chromium, logged in to the dashboard on 127.0.0.1, sends the dashboard's
// login cookie to the proxy on 127.0.0.1 too. The proxy must not pass it to the app,
// show it on the dashboard, or write it into the --har-out file.
func TestBrowserDashboardCookieStaysOut(t *testing.T) {
	t.Parallel()
	const token = "correct-horse-battery-staple"
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, func(c *ui.Config) { c.Token = token })

	var mu sync.Mutex
	var appGot, proxyGot []string // Cookie headers as the app and the proxy received them
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		appGot = append(appGot, r.Header.Get("Cookie"))
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "app_sid", Value: "app-session-1", Path: "/", HttpOnly: true})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>shop</title><p data-testid="shop">shop `+r.URL.Path+`</p>`)
	}))
	defer app.Close()

	// The proxy as `watch --proxy-to ... --har-out FILE` wires it.
	harPath := filepath.Join(t.TempDir(), "capture.har")
	har, err := traffic.CreateHARFile(harPath, traffic.HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := traffic.NewProxy(traffic.ProxyConfig{Upstreams: []*url.URL{mustParse(t, app.URL)},
		Sink: func(x *model.Exchange) {
			env.In.PublishExchange(x)
			if err := har.Add(x); err != nil {
				t.Errorf("har: %v", err)
			}
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.In.SetProxy(p.Info(ln.Addr()))
	// In front of the proxy, a recorder of what the browser sent it: the attack's
	// precondition, checked so that the test cannot pass by the cookie never leaving.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxyGot = append(proxyGot, r.Header.Get("Cookie"))
		mu.Unlock()
		p.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	proxyURL := "http://" + ln.Addr().String()

	// Log in to the dashboard.
	b := browsertest.New(t)
	b.Navigate(d.base + "/login")
	b.WaitTestID("login-form")
	b.Do(chromedp.SendKeys(browsertest.TestID("token-input"), token))
	b.Load(chromedp.Submit(browsertest.TestID("login-form")))
	b.WaitTestID("live")
	authName := ui.AuthCookieName(d.port, false)
	authValue, ok := b.Cookies(d.base)[authName]
	if !ok || authValue == "" {
		t.Fatalf("no login cookie %s after logging in", authName)
	}

	// Browse the app through the proxy: the first page sets the app's cookie, the
	// second sends it back.
	for _, path := range []string{"/", "/account"} {
		if resp := b.Navigate(proxyURL + path); resp.Status != http.StatusOK {
			t.Fatalf("GET %s through the proxy: %d", path, resp.Status)
		}
		b.WaitTestID("shop")
	}
	// Stop the proxy, waiting for requests in flight (the browser's own, such as
	// /favicon.ico, included), then end the HAR as the command line does at exit.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("proxy shutdown: %v", err)
	}
	if err := har.Close(); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(strings.Join(proxyGot, "\n"), authValue) {
		t.Fatalf("the browser did not send the dashboard cookie to the proxy (got %q): the test proves nothing", proxyGot)
	}
	for i, h := range appGot {
		if strings.Contains(h, "sessionscope_") || strings.Contains(h, authValue) {
			t.Errorf("request %d: the app received the dashboard cookie: %q", i+1, h)
		}
	}
	if len(appGot) < 2 || !strings.Contains(appGot[len(appGot)-1], "app_sid=app-session-1") {
		t.Errorf("the app's own cookie did not come back through the proxy: %q", appGot)
	}

	raw, err := os.ReadFile(harPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), authValue) || strings.Contains(string(raw), authName) {
		t.Errorf("the HAR holds the dashboard cookie:\n%s", raw)
	}
	if !strings.Contains(string(raw), "app_sid=app-session-1") {
		t.Errorf("the HAR lost the app's cookie:\n%s", raw)
	}

	// Nor does the dashboard show it: the exchanges as the API serves them.
	b.Navigate(d.base + "/")
	body := browsertest.EvalAsync[string](b, `fetch("/api/exchanges", {credentials: "same-origin"}).then(function (r) { return r.text() })`)
	if !strings.Contains(body, "app_sid") {
		t.Errorf("/api/exchanges does not list the proxied requests: %s", body)
	}
	if strings.Contains(body, authName) || strings.Contains(body, authValue) {
		t.Errorf("/api/exchanges shows the dashboard cookie: %s", body)
	}
}
