package ui

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// ContentSecurityPolicy allows only the dashboard's own scripts, styles and
// connections: no inline script or style, no framing, no foreign form targets.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sets the headers every response carries, errors included. Pages and
// API responses show session data, so they are not cached; assets override that.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// hostCheck rejects requests whose Host header is not this dashboard, which defeats
// DNS rebinding: a foreign site that rebinds its name to 127.0.0.1 still sends its own
// name as the Host.
func (s *Server) hostCheck(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.hostAllowed(c.Request().Host) {
			return c.String(http.StatusMisdirectedRequest, fmt.Sprintf(
				"sessionscope: unexpected Host %q: open the dashboard at http://%s/ or allow this host name with --allowed-host\n",
				c.Request().Host, s.boundAddr()))
		}
		return next(c)
	}
}

func splitHost(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(strings.TrimSuffix(h, ".")), p
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ".")), ""
}

// hostAllowed accepts loopback names and the bound address on the bound port, and
// the configured AllowedHosts (a bare host name allows any port, for reverse proxies).
// When bound to every interface it also accepts IP literals on the bound port: an IP
// cannot be rebound, and that is how a machine's dashboard is reached on a LAN.
func (s *Server) hostAllowed(hostHeader string) bool {
	if hostHeader == "" {
		return false
	}
	host, port := splitHost(hostHeader)
	boundHost, boundPort := splitHost(s.boundAddr())
	for _, a := range s.cfg.AllowedHosts {
		ah, ap := splitHost(a)
		if ah == host && (ap == "" || ap == port) {
			return true
		}
	}
	if port != boundPort && !(port == "" && boundPort == "80") {
		return false
	}
	if isLoopbackHost(host) || host == boundHost {
		return true
	}
	unspecified := boundHost == "" || boundHost == "0.0.0.0" || boundHost == "::"
	return unspecified && net.ParseIP(host) != nil
}

// sameOrigin reports whether the request's Origin, when it has one, is this
// dashboard: http or https with the same host:port as the Host header. Browsers send
// Origin on websocket upgrades and form posts; other clients may omit it.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if o == "null" {
		// Browsers send "Origin: null" on form posts from pages served with
		// Referrer-Policy: no-referrer, as ours are, so the login form's own post
		// arrives so. Sec-Fetch-Site is set by the browser alone: same-origin still
		// proves the post came from this dashboard (the Host check already passed),
		// while a sandboxed or foreign page's null origin comes with cross-site.
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// originCheck rejects cross-origin websocket upgrades and form posts: a page on
// another site must not read the live feed or log a browser in or out.
func originCheck(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !sameOrigin(c.Request()) {
			return c.JSON(http.StatusForbidden, map[string]string{"error": fmt.Sprintf(
				"origin %q is not this dashboard: open the dashboard itself at http://%s/", c.Request().Header.Get("Origin"), c.Request().Host)})
		}
		return next(c)
	}
}

// requireAuth lets a request through when it carries the token or a login cookie.
// API calls and the websocket get a 401 JSON; pages redirect to the login form.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ok, wait := s.auth.authorize(r)
		if ok {
			return next(c)
		}
		if wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return c.JSON(http.StatusTooManyRequests, map[string]string{"error": fmt.Sprintf(
				"too many wrong tokens from your address: wait %d s, then send the --token sessionscope was started with", secs)})
		}
		if isAPI(r.URL.Path) {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sessionscope"`)
			return c.JSON(http.StatusUnauthorized, map[string]string{
				"error": "missing or wrong token: send Authorization: Bearer <token> (the --token sessionscope was started with), or log in at /login"})
		}
		return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(r.URL.RequestURI()))
	}
}

// isAPI tells machine endpoints, which get a 401 rather than the login form: a
// Prometheus scraper on /metrics cannot follow a redirect to a login page.
func isAPI(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/api" || path == "/ws" || path == "/ws/page" || path == "/metrics"
}
