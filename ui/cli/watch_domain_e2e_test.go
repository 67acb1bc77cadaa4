package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// TestWatchProxyLoginLoopDomainMismatchRealPHP is the "Domain/Path
// mismatch": the real PHP app logs the user in on login.shop.localhost and redirects to
// the dashboard on app.shop.localhost, where the host-only session cookie is not sent. Through
// the proxy, watch --json must show the login loop live with its cause, cookie-not-sent
// (DomainMismatch), and the fixed app (the dashboard on the same host) must show none.
func TestWatchProxyLoginLoopDomainMismatchRealPHP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dashboard string // host of the dashboard the login redirects to
		broken    bool
	}{
		{"dashboard on another host", "app.shop.localhost", true},
		{"fixed: dashboard on the login's host", "login.shop.localhost", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			// The app redirects to the proxy's address, so it starts once the port is chosen.
			w, port := startWatchProxy(t, func(port int) []string {
				app := traffictest.StartPHP(t, srv.Addr,
					fmt.Sprintf("sessionscope.after_login=http://%s:%d/dashboard.php", tc.dashboard, port))
				return []string{"--redis", srv.URL(), "--proxy-to", app.BaseURL}
			})
			proxyAddr := fmt.Sprintf("127.0.0.1:%d", port)

			// A browser for which every *.localhost is this machine, as Chromium resolves it.
			jar, _ := cookiejar.New(nil)
			dialer := &net.Dialer{}
			tr := &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, proxyAddr)
			}}
			defer tr.CloseIdleConnections()
			c := &http.Client{Jar: jar, Transport: tr}
			base := fmt.Sprintf("http://login.shop.localhost:%d", port)
			do := func(res *http.Response, err error) *http.Response {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res
			}
			for attempt := 0; attempt < 2; attempt++ { // a user stuck in the loop tries twice
				do(c.Get(base + "/index.php"))
				end := do(c.PostForm(base+"/signin.php", url.Values{"user": {"ada"}}))
				onDashboard := strings.HasSuffix(end.Request.URL.Path, "/dashboard.php")
				if onDashboard == tc.broken {
					t.Fatalf("login ended at %s; broken=%v", end.Request.URL, tc.broken)
				}
			}
			dashboards := 0
			w.waitFor("the second dashboard exchange", func(l line) bool {
				if l.Type == model.TypeExchange && strings.Contains(l.raw, "dashboard.php") {
					dashboards++
				}
				return dashboards == 2
			})
			if !tc.broken {
				w.stop()
				for _, raw := range strings.Split(w.dump(), "\n") {
					if strings.Contains(raw, `"rule":"login-loop"`) || strings.Contains(raw, `"rule":"cookie-not-sent"`) {
						t.Errorf("the fixed app produced %s", raw)
					}
				}
				return
			}
			notSent := w.waitFor("cookie-not-sent", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "cookie-not-sent" })
			loop := w.waitFor("login-loop naming its cause", func(l line) bool {
				return l.Type == model.TypeFinding && l.Rule == "login-loop" && strings.Contains(l.raw, "Root cause: cookie-not-sent (DomainMismatch")
			})
			if !strings.Contains(notSent.raw, "DomainMismatch") || !strings.Contains(notSent.raw, "host-only for login.shop.localhost") ||
				!strings.Contains(notSent.raw, "app.shop.localhost") {
				t.Errorf("cookie-not-sent does not name the reason, the attribute and the URL: %s", notSent.raw)
			}
			if !strings.Contains(loop.raw, "session_set_cookie_params") && !strings.Contains(loop.raw, "Fix the root cause") {
				t.Errorf("login-loop has no fix: %s", loop.raw)
			}
		})
	}
}

// stop interrupts watch and waits for its output to end, so everything pending (the
// correlation window, the rules' deferred decisions) has been printed.
func (w *watchProc) stop() {
	w.t.Helper()
	_ = w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		w.t.Fatal("watch did not stop within 30 s of an interrupt")
	}
}
