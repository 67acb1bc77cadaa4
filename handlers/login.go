package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/views"
)

// safeNext keeps a post-login redirect on this dashboard: only a path on this origin.
// Anything else falls back to "/": a scheme or host, a path starting "//" (another
// host to a browser), a backslash (which browsers read as a slash), and any control
// or non-ASCII character (browsers drop TAB, CR and LF, so "/\t/host" becomes
// "//host").
func safeNext(next string) string {
	if len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if b := next[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.HasPrefix(u.Path, "//") || strings.ContainsAny(u.Path, "\\\x00\t\r\n") {
		return "/"
	}
	return u.String()
}

// LoginForm asks for the token. Without a token there is nothing to log in to.
func (h *Handlers) LoginForm(c echo.Context) error {
	if h.d.Auth == nil || !h.d.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	vm := views.LoginPage{Layout: h.Layout("Log in", ""), Next: safeNext(c.QueryParam("next"))}
	return Render(c, http.StatusOK, views.LoginView(vm))
}

// LoginSubmit checks the token and sets the login cookie. The token itself never
// travels in a URL and is never stored in the cookie. An address that got the token
// wrong too often is told to wait.
func (h *Handlers) LoginSubmit(c echo.Context) error {
	if h.d.Auth == nil || !h.d.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	next := safeNext(c.FormValue("next"))
	cookie, wait := h.d.Auth.LogIn(c.Request(), c.FormValue("token"))
	if wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		vm := views.LoginPage{Layout: h.Layout("Log in", ""), Next: next,
			Error: fmt.Sprintf("Too many wrong tokens from your address. Wait %d s, then try again with the --token sessionscope was started with.", secs)}
		return Render(c, http.StatusTooManyRequests, views.LoginView(vm))
	}
	if cookie == nil {
		vm := views.LoginPage{Layout: h.Layout("Log in", ""), Next: next,
			Error: "That token is not the one sessionscope was started with. Check --token or SESSIONSCOPE_TOKEN and try again."}
		return Render(c, http.StatusUnauthorized, views.LoginView(vm))
	}
	c.SetCookie(cookie)
	return c.Redirect(http.StatusSeeOther, next)
}

// Logout ends the login on the server, so a copy of its cookie no longer works, and
// removes the cookie from the browser.
func (h *Handlers) Logout(c echo.Context) error {
	if h.d.Auth != nil && h.d.Auth.Enabled() {
		c.SetCookie(h.d.Auth.LogOut(c.Request()))
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
