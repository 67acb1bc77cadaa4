package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// TestServeProxyLoginLoopInDashboardRealPHPChromium is the classic login loop
// end to end, as a developer meets it: real Chromium logs in to the real PHP app
// through `sessionscope serve --proxy-to`, on login.shop.localhost, and is redirected
// to the dashboard on app.shop.localhost, where the host-only session cookie is not
// sent. While the dashboard's Requests screen is open, the requests arrive live over
// its websocket with the held-back cookie marked DomainMismatch and the findings badge
// counts up; the Findings screen then names the login loop's root cause.
func TestServeProxyLoginLoopInDashboardRealPHPChromium(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	// The app redirects to the proxy, so the proxy's port is chosen first; the
	// dashboard's is the system's pick (port 0), read back from serve's banner.
	proxyPort, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := fmt.Sprintf("127.0.0.1:%d", proxyPort)
	dashAddr := "127.0.0.1:0"
	app := traffictest.StartPHP(t, srv.Addr,
		fmt.Sprintf("sessionscope.after_login=http://app.shop.localhost:%d/dashboard.php", proxyPort))
	b := browsertest.New(t)

	cmd := exec.Command(sessionscopeBinary(t), "serve", "--redis", srv.URL(), "--proxy-to", app.BaseURL,
		"--proxy-listen", proxyAddr, "--listen", dashAddr)
	cmd.Env = isolatedEnv(t)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var logged strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			logged.WriteString(sc.Text() + "\n")
			if _, rest, ok := strings.Cut(sc.Text(), "dashboard on http://"); !once && ok {
				once = true
				dashAddr, _, _ = strings.Cut(rest, "/")
				close(ready)
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		<-logDone
		if t.Failed() {
			t.Logf("serve stderr:\n%s", logged.String())
		}
	})
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("serve printed no dashboard URL within 30 s")
	}
	dash := "http://" + dashAddr

	b.Navigate(dash + "/requests")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	browsertest.Eval[int](b, `window.__sameDocument = 1`)

	// The user, in a second tab of the same browser, logs in twice and lands logged
	// out both times.
	tab, closeTab := chromedp.NewContext(b.Context())
	defer closeTab()
	tabCtx, cancel := context.WithTimeout(tab, browsertest.HangGuard)
	defer cancel()
	login := fmt.Sprintf("http://login.shop.localhost:%d/form.php?to=signin", proxyPort)
	for attempt := 0; attempt < 2; attempt++ {
		err := chromedp.Do(tabCtx,
			chromedp.Navigate(login),
			chromedp.WaitReady(chromedp.CSS(`[data-testid="login"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="login"]`)),
		)
		// The click starts a chain of redirects; ask where the tab is until it lands
		// (a question asked mid-navigation fails and is asked again).
		var where string
		for err == nil && !strings.HasSuffix(where, "/index.php") {
			if tabCtx.Err() != nil {
				err = fmt.Errorf("still at %q: %w", where, tabCtx.Err())
				break
			}
			if w, lerr := chromedp.Run(tabCtx, chromedp.Location()); lerr == nil {
				where = w
			}
		}
		if err != nil {
			t.Fatalf("login attempt %d: %v", attempt+1, err)
		}
		if !strings.HasPrefix(where, fmt.Sprintf("http://app.shop.localhost:%d/", proxyPort)) {
			t.Fatalf("login attempt %d ended at %s, want the app host's login page", attempt+1, where)
		}
	}

	// Live: the dashboard request on app.shop.localhost arrives with the cookie the
	// browser held back, and the findings badge counts the loop, without a reload.
	dashboardHeldBack := `Array.from(document.querySelectorAll('[data-testid="request-row"]')).some(function (r) {
		return r.textContent.includes("app.shop.localhost") && r.textContent.includes("/dashboard.php") &&
			!!r.querySelector('[data-testid="cookie-blocked"][data-reason="DomainMismatch"]') })`
	b.WaitJS("the dashboard request with the held-back cookie", dashboardHeldBack)
	b.WaitJS("the findings badge", `Number(document.getElementById("findings-badge").textContent) >= 2`)
	if browsertest.Eval[int](b, `window.__sameDocument || 0`) != 1 {
		t.Fatal("the Requests screen reloaded: rows must arrive over the websocket")
	}

	b.Navigate(dash + "/findings")
	loop := `[data-testid="finding"][data-rule="login-loop"]`
	b.WaitReady(loop)
	text := browsertest.Eval[string](b, `document.querySelector('`+loop+`').textContent`)
	for _, want := range []string{"Root cause: cookie-not-sent (DomainMismatch", "app.shop.localhost"} {
		if !strings.Contains(text, want) {
			t.Errorf("the login-loop finding does not say %q:\n%s", want, text)
		}
	}
	notSent := browsertest.Eval[string](b, `(document.querySelector('[data-testid="finding"][data-rule="cookie-not-sent"]') || {}).textContent || ""`)
	if !strings.Contains(notSent, "DomainMismatch") || !strings.Contains(notSent, "host-only for login.shop.localhost") {
		t.Errorf("cookie-not-sent does not name the reason and the attribute:\n%s", notSent)
	}
}
