package cli

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// The store-side causes of a login loop, on real PHP 8 apps behind watch: a redirect
// flushed before its session write (stale-read), and servers that keep their sessions
// in stores of their own (session-not-shared). Each case is checked live and from the
// HAR, with its fixed twin giving no finding either way.

// watchCase starts watch with args in front of the upstreams and returns the case,
// with the HAR it writes.
func watchCase(t *testing.T, args []string, upstreams ...*traffictest.App) *php8Case {
	t.Helper()
	c := &php8Case{t: t, HAR: filepath.Join(t.TempDir(), "proxy.har")}
	for _, u := range upstreams {
		args = append(args, "--proxy-to", u.BaseURL)
	}
	args = append(args, "--har-out", c.HAR)
	w, port := startWatchProxy(t, func(int) []string { return args })
	c.W, c.Port = w, port
	c.Base = fmt.Sprintf("http://shop.localhost:%d", port)
	return c
}

// startPHP8Workers is startPHP8 with several php -S workers, on Redis.
func startPHP8Workers(t *testing.T, app string, ini ...string) *php8Case {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	php := traffictest.StartPHPServer(t, filepath.Join("php8", app), srv.Addr, traffictest.PHPServer{Workers: 4},
		append(append([]string(nil), php8Hardened...), ini...)...)
	c := watchCase(t, []string{"--redis", srv.URL()}, php)
	c.Redis = srv
	return c
}

// rootCause fails unless the login loop the user was left in names rule as its root
// cause: the last login-loop finding seen (live, an early sighting of the loop may
// have been told by its fresh cookies before the second login made it a redirect
// loop; that earlier finding is kept as it was).
func rootCause(t *testing.T, where, rule string, fs []model.Finding) {
	t.Helper()
	loop := findingOf(t, where, "login-loop", fs)
	for _, f := range fs {
		if f.Rule == "login-loop" && f.LastSeen.After(loop.LastSeen) {
			loop = f
		}
	}
	if !strings.Contains(loop.Detail, "Root cause: "+rule) {
		t.Errorf("%s: the login loop does not name %s as its root cause:\n%s", where, rule, describeFindings(fs))
	}
}

// TestPHP8StaleReadFlushedRedirect: the login flushes its 302 and writes the session
// 1.5 s later; Chromium follows the redirect on the headers and the dashboard reads
// no login. stale-read, timed by the headers, is the loop's root cause, live and
// from the HAR.
func TestPHP8StaleReadFlushedRedirect(t *testing.T) {
	t.Parallel()
	c := startPHP8Workers(t, "stale_flushed", "output_buffering=0")
	b := c.Browser()
	for i := 0; i < 2; i++ {
		b.Navigate(c.URL("shop", "/index.php"))
		resp := b.Load(chromedp.Click(chromedp.CSS(`button`)))
		if resp == nil || !strings.HasSuffix(resp.URL, "/index.php") {
			t.Fatalf("login %d landed on %+v, want index.php (the dashboard found no login)", i+1, resp)
		}
	}
	c.W.waitFor("the stale-read finding", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "stale-read" })
	live := c.Stop()
	f := findingOf(t, "live", "stale-read", live)
	if !strings.Contains(f.Detail, "headers went out") {
		t.Errorf("live stale-read is not timed by the headers: %s", f.Detail)
	}
	rootCause(t, "live", "stale-read", live)
	har := c.Analyze()
	if f := findingOf(t, "analyze", "stale-read", har); !strings.Contains(f.Detail, "kept running") {
		t.Errorf("analyze's stale-read does not say the redirect's request kept running: %s", f.Detail)
	}
	rootCause(t, "analyze", "stale-read", har)
}

// TestPHP8StaleReadFlushedFixed: the fixed twin writes the session before it flushes
// the redirect, then does the same slow step; a slow page writes the session early
// and sleeps 3 s. No write is late, and none is blamed on the earlier login.
func TestPHP8StaleReadFlushedFixed(t *testing.T) {
	t.Parallel()
	c := startPHP8Workers(t, "stale_flushed_fixed", "output_buffering=0")
	b := c.Browser()
	b.Navigate(c.URL("shop", "/index.php"))
	if resp := b.Load(chromedp.Click(chromedp.CSS(`button`))); resp == nil || !strings.HasSuffix(resp.URL, "/dashboard.php") || resp.Status != 200 {
		t.Fatalf("the login landed on %+v, want the dashboard", resp)
	}
	if resp := b.Navigate(c.URL("shop", "/slow.php")); resp == nil || resp.Status != 200 {
		t.Fatalf("the slow page answered %+v", resp)
	}
	b.Navigate(c.URL("shop", "/dashboard.php"))
	c.W.waitFor("the slow page's write", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindUpdated && strings.Contains(l.raw, "visits")
	})
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}

// twoServers starts the healthy login app on two php -S servers (127.0.0.1 and
// 127.0.0.2, so a HAR's serverIPAddress tells them apart) with file sessions, each
// in its own directory or both in one, and watch round-robin in front of them,
// watching the directories.
func twoServers(t *testing.T, shared bool, ini ...string) *php8Case {
	t.Helper()
	dirA, dirB := t.TempDir(), t.TempDir()
	if shared {
		dirB = dirA
	}
	files := func(dir string) []string {
		return append(append(append([]string(nil), php8Hardened...), "session.save_handler=files", "session.save_path="+dir), ini...)
	}
	a := traffictest.StartPHPServer(t, filepath.Join("php8", "not_shared"), "", traffictest.PHPServer{}, files(dirA)...)
	b := traffictest.StartPHPServer(t, filepath.Join("php8", "not_shared"), "", traffictest.PHPServer{Host: "127.0.0.2"}, files(dirB)...)
	args := []string{"--files", "A=" + dirA}
	if !shared {
		args = append(args, "--files", "B="+dirB)
	}
	return watchCase(t, args, a, b)
}

// logInTwice logs in twice with the harness client (round-robin puts each login's
// dashboard on the other server) and returns the pages it landed on.
func logInTwice(t *testing.T, c *php8Case) []string {
	t.Helper()
	client := c.Client()
	get := func(method, path string) string {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader("user=ada")
		}
		req, err := http.NewRequest(method, c.URL("shop", path), body)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Request.URL.Path
	}
	var landed []string
	get(http.MethodGet, "/index.php")
	landed = append(landed, get(http.MethodPost, "/login.php"))
	landed = append(landed, get(http.MethodPost, "/login.php"))
	return landed
}

// TestPHP8SessionNotShared: two servers with stores of their own behind a round-robin
// balancer, with strict mode on and off. The login lands on one server, its
// dashboard on the other, which does not know the session. session-not-shared is the
// loop's root cause, live and from the HAR.
func TestPHP8SessionNotShared(t *testing.T) {
	t.Parallel()
	for _, strict := range []string{"1", "0"} {
		t.Run("strict mode "+strict, func(t *testing.T) {
			t.Parallel()
			c := twoServers(t, false, "session.use_strict_mode="+strict)
			landed := logInTwice(t, c)
			for _, p := range landed {
				if p != "/index.php" {
					t.Fatalf("the logins landed on %v, want index.php each time (the other server had no login)", landed)
				}
			}
			c.W.waitFor("the session-not-shared finding", func(l line) bool {
				return l.Type == model.TypeFinding && l.Rule == "session-not-shared"
			})
			live := c.Stop()
			f := findingOf(t, "live", "session-not-shared", live)
			// Both sides tell it live: the request's answer on the other upstream,
			// and, when PHP adopts the id, the same id written in both stores.
			evidence := strings.Join(f.Evidence, "\n")
			if !strings.Contains(evidence, "carried session") {
				t.Errorf("live session-not-shared lacks the HTTP side's evidence:\n%s", evidence)
			}
			if strict == "0" && !strings.Contains(evidence, "held it") {
				t.Errorf("live session-not-shared lacks the stores' evidence (one id in both directories):\n%s", evidence)
			}
			rootCause(t, "live", "session-not-shared", live)
			har := c.Analyze()
			findingOf(t, "analyze", "session-not-shared", har)
			rootCause(t, "analyze", "session-not-shared", har)
		})
	}
}

// TestPHP8SessionSharedFixed: the same two servers and balancer with one shared
// session directory: every login reaches the dashboard, and nothing is reported.
func TestPHP8SessionSharedFixed(t *testing.T) {
	t.Parallel()
	c := twoServers(t, true)
	landed := logInTwice(t, c)
	for _, p := range landed {
		if p != "/dashboard.php" {
			t.Fatalf("the logins landed on %v, want the dashboard each time", landed)
		}
	}
	c.W.waitFor("the second login's regeneration", func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == model.KindRegenerated && l.Exchange != ""
	})
	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}
