package ui_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/ui"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// TestBrowserLogoutRevokes: in Chromium, log in, copy the login cookie (as a HAR of
// the app behind the proxy would have), press Log out; the browser is back at the login
// form, and the copied cookie no longer opens the API.
func TestBrowserLogoutRevokes(t *testing.T) {
	t.Parallel()
	const token = "correct-horse-battery-staple"
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, func(c *ui.Config) { c.Token = token })
	b := browsertest.New(t)

	b.Navigate(d.base + "/login?next=" + url.QueryEscape("/findings"))
	b.Do(chromedp.SendKeys(browsertest.TestID("token-input"), token))
	if resp := b.Load(chromedp.Submit(browsertest.TestID("login-form"))); resp.Status != http.StatusOK {
		t.Fatalf("login ended on status %d", resp.Status)
	}
	name := ui.AuthCookieName(d.port, false)
	copied, ok := b.Cookies(d.base)[name]
	if !ok {
		t.Fatalf("no %s cookie after the login: %v", name, b.Cookies(d.base))
	}
	apiWith := func(value string) int {
		req, _ := http.NewRequest(http.MethodGet, d.base+"/api/status", nil)
		req.AddCookie(&http.Cookie{Name: name, Value: value})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := apiWith(copied); got != http.StatusOK {
		t.Fatalf("the copied cookie before logout: %d, want 200", got)
	}

	b.Load(chromedp.Submit(chromedp.CSS(`form.logout`)))
	b.WaitTestID("login-form")
	if _, still := b.Cookies(d.base)[name]; still {
		t.Error("the browser still holds the login cookie after logout")
	}
	if got := apiWith(copied); got != http.StatusUnauthorized {
		t.Errorf("the copied cookie after logout: %d, want 401", got)
	}
	if resp := b.Navigate(d.base + "/findings"); resp.Status != http.StatusOK {
		t.Errorf("after logout, /findings ended on %d", resp.Status)
	}
	b.WaitTestID("login-form")
}
