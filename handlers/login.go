package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/views"
)

// safeNext keeps a post-login redirect on this dashboard: only a local path, never
// "//host" or "/\host", which browsers treat as another origin.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
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
// travels in a URL and is never stored in the cookie.
func (h *Handlers) LoginSubmit(c echo.Context) error {
	if h.d.Auth == nil || !h.d.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	next := safeNext(c.FormValue("next"))
	if !h.d.Auth.Check(c.FormValue("token")) {
		vm := views.LoginPage{Layout: h.Layout("Log in", ""), Next: next,
			Error: "That token is not the one sessionscope was started with. Check --token or SESSIONSCOPE_TOKEN and try again."}
		return Render(c, http.StatusUnauthorized, views.LoginView(vm))
	}
	c.SetCookie(h.d.Auth.SessionCookie(c.IsTLS()))
	return c.Redirect(http.StatusSeeOther, next)
}

// Logout removes the login cookie.
func (h *Handlers) Logout(c echo.Context) error {
	if h.d.Auth != nil {
		c.SetCookie(h.d.Auth.ClearCookie(c.IsTLS()))
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
