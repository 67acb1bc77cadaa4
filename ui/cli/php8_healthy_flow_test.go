package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestPHP8HealthyMinute uses a healthy app the way people do, for more than a minute,
// in real Chromium behind watch: a login with remember-me, the dashboard open in two
// tabs that poll an API every second, a slow page, a critical action that asks for the
// password again (a new session id), a return through the remember-me cookie after
// the browser dropped its session cookie, and a logout while the second tab still
// polls. A diagnosis tool that cries wolf here is not trusted when it matters: every
// rule must stay silent, live and on the proxy's HAR.
func TestPHP8HealthyMinute(t *testing.T) {
	t.Parallel()
	c := startPHP8(t, "healthy_full")
	b := c.Browser()
	start := time.Now()

	b.Navigate(c.URL("shop", "/index.php"))
	if resp := b.Load(chromedp.Click(chromedp.CSS(`#login`))); resp == nil || !strings.HasSuffix(resp.URL, "/dashboard.php") {
		t.Fatalf("the login landed on %+v, want the dashboard", resp)
	}
	// A second tab on the dashboard: it polls with the same cookies.
	tab2, closeTab2 := chromedp.NewContext(b.Context())
	defer closeTab2()
	tab2, cancel2 := context.WithTimeout(tab2, 3*time.Minute)
	defer cancel2()
	if err := chromedp.Do(tab2, chromedp.Navigate(c.URL("shop", "/dashboard.php")), chromedp.WaitVisible(chromedp.CSS(`#polls`))); err != nil {
		t.Fatalf("second tab: %v", err)
	}
	polls := func(ctx context.Context) int {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#polls`)))
		if err != nil {
			return -1 // mid-navigation: ask again
		}
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		return n
	}
	waitPolls := func(ctx context.Context, n int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for polls(ctx) < n {
			if time.Now().After(deadline) {
				t.Fatalf("the dashboard did not reach %d polls", n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitPolls(b.Context(), 10)

	// A slow page, then back.
	if resp := b.Load(chromedp.Click(chromedp.CSS(`#slow`))); resp == nil || resp.Status != 200 {
		t.Fatalf("the slow page: %+v", resp)
	}
	b.Navigate(c.URL("shop", "/dashboard.php"))
	waitPolls(b.Context(), 5)

	// Re-authentication before a critical action: the password again, a new id.
	b.Navigate(c.URL("shop", "/critical.php"))
	if resp := b.Load(chromedp.Click(chromedp.CSS(`#confirm`))); resp == nil || resp.Status != 200 {
		t.Fatalf("the re-authentication: %+v", resp)
	}
	if state := browsertest.Run(b, chromedp.Text(chromedp.CSS(`#state`))); !strings.Contains(state, "account closed") {
		t.Fatalf("after re-authenticating: %q", state)
	}

	// The browser drops its session cookie (a restart); remember-me brings the user back.
	ctx, cancel := b.Guard()
	_, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "PHPSESSID", Domain: "shop.localhost"})
	cancel()
	if err != nil {
		t.Fatalf("drop the session cookie: %v", err)
	}
	b.Navigate(c.URL("shop", "/dashboard.php"))
	if state := browsertest.Run(b, chromedp.Text(chromedp.CSS(`#state`))); !strings.Contains(state, "dashboard of user 42") {
		t.Fatalf("remember-me did not bring the user back: %q", state)
	}

	// Go on using both tabs until a minute has passed: the second tab's polls count
	// the time (one a second).
	if left := time.Minute - time.Since(start); left > 0 {
		waitPolls(tab2, polls(tab2)+int(left/time.Second)+2)
	}

	// The logout, while the second tab still polls: its polls now answer 401.
	b.Navigate(c.URL("shop", "/logout.php"))
	refused := 0
	c.W.waitFor("two polls refused after the logout", func(l line) bool {
		if l.Type == model.TypeExchange && strings.Contains(l.raw, "/api/poll.php") && strings.Contains(l.raw, `"status":401`) {
			refused++
		}
		return refused >= 2
	})
	closeTab2()
	if time.Since(start) < time.Minute {
		t.Fatalf("the flow took %s, want at least a minute", time.Since(start))
	}

	noFindings(t, "live", c.Stop())
	noFindings(t, "analyze", c.Analyze())
}
