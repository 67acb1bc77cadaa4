package traffictest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// ErrUnexpected is wrapped by flow errors when an app answered differently from the
// standard flow (wrong status, missing redirect or cookie, a login loop).
var ErrUnexpected = errors.New("unexpected response")

// maxBody bounds how much of a response body is kept; the apps answer in a line.
const maxBody = 64 << 10

// Client is a browser-like HTTP client for one App: it keeps cookies in a jar but does
// not follow redirects, so a test sees and follows every hop itself.
type Client struct {
	// AfterStep, when set, runs after each step of a standard flow has completed and
	// before the next request is made, with the step's name ("anonymous", "login",
	// "dashboard", "logout") and its response. Tests use it to attribute store events to
	// the request that caused them, or to pause between steps.
	AfterStep func(step string, r *Response)

	app  *App
	base *url.URL
	jar  *cookiejar.Jar
	http *http.Client
}

// Response is one request/response exchange, read completely.
type Response struct {
	Method     string
	URL        string // the absolute URL requested
	Status     int
	Location   string // the Location header as sent ("" if none)
	Header     http.Header
	SetCookies []*http.Cookie
	Body       string
	// SessionID is the plain session store id held in the jar after this response ("" if
	// the jar holds no session cookie).
	SessionID string
}

// NewClient returns a client with an empty cookie jar.
func (a *App) NewClient() *Client {
	base, err := url.Parse(a.BaseURL)
	if err != nil {
		panic(fmt.Sprintf("traffictest: bad base URL %q: %v", a.BaseURL, err))
	}
	jar, _ := cookiejar.New(nil) // never fails without options
	return &Client{
		app: a, base: base, jar: jar,
		http: &http.Client{
			Jar:     jar,
			Timeout: 15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// Jar is the client's cookie jar.
func (c *Client) Jar() http.CookieJar { return c.jar }

// Cookie returns the jar's cookie with this name for the app's root path, or nil.
func (c *Client) Cookie(name string) *http.Cookie {
	for _, ck := range c.jar.Cookies(c.base) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// SessionID is the plain session store id the client would send now ("" if none).
func (c *Client) SessionID() string {
	ck := c.Cookie(c.app.CookieName)
	if ck == nil {
		return ""
	}
	id, err := c.app.StoreID(ck.Value)
	if err != nil {
		return ""
	}
	return id
}

// StoreID turns the app's session cookie value into the store id.
func (a *App) StoreID(cookieValue string) (string, error) {
	if a.spec.StoreID != nil {
		return a.spec.StoreID(cookieValue)
	}
	return cookieValue, nil
}

// Get requests path (relative to the app's base URL, or absolute).
func (c *Client) Get(path string) (*Response, error) {
	return c.Do(http.MethodGet, path, nil)
}

// PostForm posts form as application/x-www-form-urlencoded to path.
func (c *Client) PostForm(path string, form url.Values) (*Response, error) {
	return c.Do(http.MethodPost, path, form)
}

// Follow requests the Location of a redirect response with GET, as a browser does
// after 302/303.
func (c *Client) Follow(r *Response) (*Response, error) {
	if r.Location == "" {
		return nil, fmt.Errorf("traffictest: %s %s: %w: status %d has no Location to follow", r.Method, r.URL, ErrUnexpected, r.Status)
	}
	from, err := url.Parse(r.URL)
	if err != nil {
		return nil, err
	}
	to, err := from.Parse(r.Location)
	if err != nil {
		return nil, fmt.Errorf("traffictest: bad Location %q: %w", r.Location, err)
	}
	return c.Get(to.String())
}

// Do sends one request; a non-nil form is sent as a urlencoded body.
func (c *Client) Do(method, path string, form url.Values) (*Response, error) {
	u, err := c.base.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("traffictest: bad path %q: %w", path, err)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "sessionscope-realapp/1")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("traffictest: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("traffictest: %s %s: read body: %w", method, u, err)
	}
	return &Response{
		Method: method, URL: u.String(), Status: resp.StatusCode,
		Location: resp.Header.Get("Location"), Header: resp.Header,
		SetCookies: resp.Cookies(), Body: string(b), SessionID: c.SessionID(),
	}, nil
}

// Flow is the record of a standard login flow: anonymous visit, login, the dashboard
// reached through the login's redirect, logout (whose redirect is not followed, so that
// no new anonymous session appears).
type Flow struct {
	Anonymous, Login, Dashboard, Logout *Response
	// AnonID is the store id of the anonymous session, LoggedInID the one the client
	// holds after login (equal to AnonID when the app does not regenerate).
	AnonID, LoggedInID string
}

// Steps lists the exchanges made so far, in order.
func (f *Flow) Steps() []*Response {
	var out []*Response
	for _, r := range []*Response{f.Anonymous, f.Login, f.Dashboard, f.Logout} {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// PHPLoginFlow runs the standard flow against the PHP app; regen is "true", "false" or
// "none" (session_regenerate_id(true), (false), or no regeneration). On an unexpected
// answer it returns the steps made so far with an error wrapping ErrUnexpected.
func (c *Client) PHPLoginFlow(regen string) (*Flow, error) {
	if c.app.Kind != PHP {
		return nil, fmt.Errorf("traffictest: PHPLoginFlow on the %s app", c.app.Kind)
	}
	return c.loginFlow(flowPaths{
		anonymous: "/index.php",
		login:     "/login.php?regen=" + url.QueryEscape(regen),
		dashboard: "dashboard.php",
		logout:    "/logout.php",
	})
}

// NodeLoginFlow runs the standard flow against the Node app (login regenerates).
func (c *Client) NodeLoginFlow() (*Flow, error) {
	if c.app.Kind != Node {
		return nil, fmt.Errorf("traffictest: NodeLoginFlow on the %s app", c.app.Kind)
	}
	return c.loginFlow(flowPaths{
		anonymous: "/",
		login:     "/login",
		dashboard: "/dashboard",
		logout:    "/logout",
	})
}

type flowPaths struct {
	anonymous, login, dashboard, logout string
}

func (c *Client) loginFlow(p flowPaths) (*Flow, error) {
	f := &Flow{}
	var err error
	if f.Anonymous, err = c.Get(p.anonymous); err != nil {
		return f, err
	}
	if err := expect(f.Anonymous, http.StatusOK, "", true); err != nil {
		return f, err
	}
	f.AnonID = f.Anonymous.SessionID
	c.afterStep("anonymous", f.Anonymous)

	if f.Login, err = c.PostForm(p.login, url.Values{"user": {"alice"}}); err != nil {
		return f, err
	}
	if err := expect(f.Login, http.StatusFound, p.dashboard, true); err != nil {
		return f, err
	}
	f.LoggedInID = f.Login.SessionID
	c.afterStep("login", f.Login)

	if f.Dashboard, err = c.Follow(f.Login); err != nil {
		return f, err
	}
	if err := expect(f.Dashboard, http.StatusOK, "", true); err != nil {
		return f, err
	}
	if !strings.Contains(f.Dashboard.Body, "hello user 42") {
		return f, fmt.Errorf("traffictest: %s %s: %w: dashboard did not greet user 42: %q",
			f.Dashboard.Method, f.Dashboard.URL, ErrUnexpected, f.Dashboard.Body)
	}
	c.afterStep("dashboard", f.Dashboard)

	if f.Logout, err = c.PostForm(p.logout, url.Values{}); err != nil {
		return f, err
	}
	if err := expect(f.Logout, http.StatusFound, "", false); err != nil {
		return f, err
	}
	c.afterStep("logout", f.Logout)
	return f, nil
}

func (c *Client) afterStep(step string, r *Response) {
	if c.AfterStep != nil {
		c.AfterStep(step, r)
	}
}

// expect checks status, the Location's suffix (when location is not ""), and whether
// the jar holds a session cookie afterwards.
func expect(r *Response, status int, location string, wantSession bool) error {
	switch {
	case r.Status != status:
		return fmt.Errorf("traffictest: %s %s: %w: status %d, want %d; body %q", r.Method, r.URL, ErrUnexpected, r.Status, status, r.Body)
	case location != "" && !strings.HasSuffix(r.Location, location):
		return fmt.Errorf("traffictest: %s %s: %w: Location %q, want %q", r.Method, r.URL, ErrUnexpected, r.Location, location)
	case wantSession && r.SessionID == "":
		return fmt.Errorf("traffictest: %s %s: %w: no session cookie after the response", r.Method, r.URL, ErrUnexpected)
	case !wantSession && r.SessionID != "":
		return fmt.Errorf("traffictest: %s %s: %w: the session cookie was not cleared", r.Method, r.URL, ErrUnexpected)
	}
	return nil
}

// ConnectSID extracts the session id from an express-session cookie value:
// "s%3A<id>.<signature>" (or already unescaped "s:<id>.<signature>"). It does not check
// the signature.
func ConnectSID(value string) (string, error) {
	v, err := url.QueryUnescape(value)
	if err != nil {
		return "", fmt.Errorf("traffictest: connect.sid %q: %w", value, err)
	}
	rest, ok := strings.CutPrefix(v, "s:")
	if !ok {
		return "", fmt.Errorf("traffictest: connect.sid is not signed (no \"s:\" prefix)")
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 {
		return "", fmt.Errorf("traffictest: connect.sid has no signature")
	}
	return rest[:dot], nil
}

// Ref is the session ref of a store id: the first 12 hex digits of its SHA-256.
func Ref(storeID string) string {
	sum := sha256.Sum256([]byte(storeID))
	return hex.EncodeToString(sum[:])[:12]
}
