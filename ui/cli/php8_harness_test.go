package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// php8Case is one diagnosis case run the way a developer meets it: a real PHP 8 app
// (phpredis, php -S) from traffictest/testdata/php8/<app>, behind `watch --json
// --proxy-to` with its Redis watched, driven by the test (real Chromium or an HTTP
// client). Stop ends watch; the proxy's HAR (--har-out) then goes through `analyze`,
// so every case is checked live and from the HAR.
type php8Case struct {
	t *testing.T
	// Base is the proxy as a browser reaches it: http://shop.localhost:PORT. Any
	// *.localhost name reaches the same proxy (Chromium resolves them to loopback;
	// Client dials the proxy whatever the name).
	Base  string
	Port  int
	Redis *redistest.Server
	App   *traffictest.App
	W     *watchProc
	HAR   string // the file watch writes the proxied exchanges to
}

// php8Hardened are the cookie settings of a well-configured app, which every case
// starts from so that cookie-flags stays quiet: *.localhost is a secure context, so
// the cookie can be Secure over plain http here.
var php8Hardened = []string{"session.cookie_httponly=1", "session.cookie_secure=1", "session.cookie_samesite=Lax",
	"session.use_strict_mode=1"}

// startPHP8 starts Redis, the app (php.ini settings in ini override php8Hardened and
// traffictest's defaults) and watch in front of it, and waits until watch is live.
func startPHP8(t *testing.T, app string, ini ...string) *php8Case {
	t.Helper()
	ini = append(append([]string(nil), php8Hardened...), ini...)
	srv := redistest.Start(t, redistest.Options{})
	a := traffictest.StartPHPApp(t, filepath.Join("php8", app), srv.Addr, ini...)
	c := &php8Case{t: t, Redis: srv, App: a, HAR: filepath.Join(t.TempDir(), "proxy.har")}
	// Port 0: the system picks the proxy's port, so no parallel test can take it first.
	c.W = startWatch(t, "--redis", srv.URL(), "--proxy-to", a.BaseURL, "--proxy-listen", "127.0.0.1:0", "--har-out", c.HAR)
	_, port, _ := net.SplitHostPort(c.W.proxyAddr())
	c.Port, _ = strconv.Atoi(port)
	c.Base = fmt.Sprintf("http://shop.localhost:%d", c.Port)
	c.W.waitLive()
	return c
}

// URL is the proxy's address for a host under localhost ("login.shop") and a path.
func (c *php8Case) URL(host, path string) string {
	return fmt.Sprintf("http://%s.localhost:%d%s", host, c.Port, path)
}

// Client is an HTTP client with a cookie jar for which every name reaches the proxy,
// as *.localhost does in Chromium: for cases that need no script and no rendering.
func (c *php8Case) Client() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	dialer := &net.Dialer{}
	proxy := fmt.Sprintf("127.0.0.1:%d", c.Port)
	tr := &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, proxy)
	}}
	c.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Jar: jar, Transport: tr}
}

// Browser is a real Chromium for this case.
func (c *php8Case) Browser() *browsertest.Browser {
	return browsertest.New(c.t)
}

// Stop ends watch, so that everything it still held (the correlation window, the
// rules' deferred decisions) is printed, and returns the findings it printed.
func (c *php8Case) Stop() []model.Finding {
	c.t.Helper()
	c.W.stop()
	var out []model.Finding
	for _, raw := range strings.Split(c.W.dump(), "\n") {
		if !strings.Contains(raw, `"type":"finding"`) {
			continue
		}
		var f model.Finding
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			c.t.Fatalf("a finding watch printed is not JSON: %v: %s", err, raw)
		}
		out = append(out, f)
	}
	// watch prints a finding again when it changes: keep the last of each id.
	return lastOfEach(out)
}

// Analyze runs `sessionscope analyze --json` on the HAR watch wrote and returns its
// findings. Call it after Stop.
func (c *php8Case) Analyze() []model.Finding {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := Main([]string{"analyze", "--json", "--fail-on", "error", c.HAR}, env(nil), &out, &errOut)
	if code > 1 {
		c.t.Fatalf("analyze %s: exit %d: %s", c.HAR, code, errOut.String())
	}
	var fs []model.Finding
	for _, raw := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if raw == "" {
			continue
		}
		var f model.Finding
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			c.t.Fatalf("analyze printed a line that is not JSON: %v: %s", err, raw)
		}
		if f.Type == model.TypeFinding {
			fs = append(fs, f)
		}
	}
	return fs
}

// lastOfEach keeps the last version of each finding id, in first-seen order.
func lastOfEach(fs []model.Finding) []model.Finding {
	idx := map[string]int{}
	var out []model.Finding
	for _, f := range fs {
		if i, ok := idx[f.ID]; ok {
			out[i] = f
			continue
		}
		idx[f.ID] = len(out)
		out = append(out, f)
	}
	return out
}

// findingOf returns the finding of rule, failing the test (with every finding) when
// there is none.
func findingOf(t *testing.T, where, rule string, fs []model.Finding) model.Finding {
	t.Helper()
	for _, f := range fs {
		if f.Rule == rule {
			return f
		}
	}
	t.Fatalf("%s: no %s finding; findings:\n%s", where, rule, describeFindings(fs))
	return model.Finding{}
}

// noFindings fails the test when fs holds any finding: a healthy twin yields none.
func noFindings(t *testing.T, where string, fs []model.Finding) {
	t.Helper()
	if len(fs) > 0 {
		t.Errorf("%s: the healthy twin gave findings:\n%s", where, describeFindings(fs))
	}
}

func describeFindings(fs []model.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s (%s): %s | fix: %s\n", f.ID, f.Rule, f.Severity, f.Detail, f.Fix)
	}
	if b.Len() == 0 {
		return "  (none)\n"
	}
	return b.String()
}

// TestPHP8HealthyTwin: the healthy app through the harness, in Chromium, yields an
// event trail and no finding, live or from the HAR.
func TestPHP8HealthyTwin(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "healthy")
	b := c.Browser()
	b.Navigate(c.URL("shop", "/index.php"))
	// The click's POST answers 302 to the dashboard: Load waits for that page.
	if resp := b.Load(chromedp.Click(chromedp.CSS(`button`))); resp == nil || !strings.HasSuffix(resp.URL, "/dashboard.php") || resp.Status != 200 {
		t.Fatalf("the login landed on %+v, want the dashboard", resp)
	}
	b.Navigate(c.URL("shop", "/dashboard.php"))
	b.Navigate(c.URL("shop", "/logout.php"))
	c.W.waitFor("the logout's destroyed event", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindDestroyed
	})
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}
