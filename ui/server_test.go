package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// started is a dashboard served on a free loopback port.
type started struct {
	srv  *Server
	addr string // host:port
	base string // http://host:port
}

func startServer(t *testing.T, cfg Config, src handlers.Source) *started {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return startServerEdited(t, cfg, src, func(*Server) {})
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }
func withHost(h string) reqOpt      { return func(r *http.Request) { r.Host = h } }
func withCookie(c *http.Cookie) reqOpt {
	return func(r *http.Request) { r.AddCookie(c) }
}

func do(t *testing.T, method, target string, body io.Reader, opts ...reqOpt) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestCheckBind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		listen, token string
		ok            bool
	}{
		{"127.0.0.1:7070", "", true},
		{"127.8.9.10:7070", "", true},
		{"localhost:7070", "", true},
		{"[::1]:7070", "", true},
		{"0.0.0.0:7070", "", false},
		{":7070", "", false},
		{"[::]:7070", "", false},
		{"192.168.1.20:7070", "", false},
		{"example.com:7070", "", false},
		{"0.0.0.0:7070", "s3cret", true},
		{"nonsense", "", false},
	} {
		t.Run(tc.listen+"/"+tc.token, func(t *testing.T) {
			err := CheckBind(tc.listen, tc.token)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckBind(%q, %q) = %v", tc.listen, tc.token, err)
			}
			if _, nerr := New(Config{Listen: tc.listen, Token: tc.token}, nil); tc.ok != (nerr == nil) && !strings.Contains(tc.listen, "nonsense") {
				t.Errorf("New agrees not: %v", nerr)
			}
		})
	}
	err := CheckBind("0.0.0.0:7070", "")
	want := "refusing to listen on 0.0.0.0:7070 without --token (or SESSIONSCOPE_TOKEN): the dashboard shows session ids and personal data"
	if err == nil || err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestSecurity(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	const token = "correct-horse-battery-staple"
	s := startServer(t, Config{Token: token, AllowedHosts: []string{"dash.example"}}, env.In)
	open := startServer(t, Config{}, env.In)
	bearer := withHeader("Authorization", "Bearer "+token)
	_, sPort, _ := net.SplitHostPort(s.addr)
	cookieName := AuthCookieName(sPort, false)

	t.Run("token required", func(t *testing.T) {
		for _, tc := range []struct {
			name, path string
			opts       []reqOpt
			want       int
		}{
			{"api without token", "/api/status", nil, 401},
			{"api with wrong token", "/api/status", []reqOpt{withHeader("Authorization", "Bearer nope")}, 401},
			{"api with token in another scheme", "/api/status", []reqOpt{withHeader("Authorization", "Basic "+token)}, 401},
			{"api with token", "/api/status", []reqOpt{bearer}, 200},
			{"sessions api without token", "/api/sessions", nil, 401},
			{"events api without token", "/api/events", nil, 401},
			{"websocket without token", "/ws", nil, 401},
			{"page without token", "/sessions", nil, 303},
			{"page with token", "/sessions", []reqOpt{bearer}, 200},
			{"forged cookie", "/", []reqOpt{withCookie(&http.Cookie{Name: cookieName, Value: "00.00"})}, 303},
			{"token as cookie value", "/", []reqOpt{withCookie(&http.Cookie{Name: cookieName, Value: token})}, 303},
			{"login form", "/login", nil, 200},
			{"no token configured", "", nil, 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				target := s.base + tc.path
				if tc.path == "" {
					target = open.base + "/api/status"
				}
				resp, body := do(t, http.MethodGet, target, nil, tc.opts...)
				if resp.StatusCode != tc.want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
				}
				switch tc.want {
				case 401:
					var e struct{ Error string }
					if json.Unmarshal([]byte(body), &e) != nil || !strings.Contains(e.Error, "token") {
						t.Errorf("401 body %q", body)
					}
				case 303:
					if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") {
						t.Errorf("redirect to %q", loc)
					}
				}
			})
		}
	})

	t.Run("login sets a safe cookie", func(t *testing.T) {
		resp, body := do(t, http.MethodGet, s.base+"/login", nil)
		doc := uitest.Parse(t, []byte(body))
		form := doc.One("login-form")
		if m, _ := uitest.Attr(form, "method"); m != "post" || resp.StatusCode != 200 {
			t.Errorf("form method %q", m)
		}
		if ty, _ := uitest.Attr(doc.One("token-input"), "type"); ty != "password" {
			t.Errorf("token input type %q", ty)
		}
		post := func(tok string, opts ...reqOpt) (*http.Response, string) {
			form := url.Values{"token": {tok}, "next": {"/findings"}}
			opts = append(opts, withHeader("Content-Type", "application/x-www-form-urlencoded"))
			return do(t, http.MethodPost, s.base+"/login", strings.NewReader(form.Encode()), opts...)
		}
		if resp, _ := post("wrong"); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
			t.Errorf("wrong token: status %d cookies %v", resp.StatusCode, resp.Cookies())
		}
		if resp, _ := post(token, withHeader("Origin", "http://evil.example")); resp.StatusCode != 403 {
			t.Errorf("cross-origin login: status %d", resp.StatusCode)
		}
		resp, _ = post(token, withHeader("Origin", s.base))
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/findings" {
			t.Fatalf("login: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		var c *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == cookieName {
				c = k
			}
		}
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || strings.Contains(c.Value, token) {
			t.Fatalf("cookie %+v", c)
		}
		if strings.Contains(resp.Header.Get("Location"), token) {
			t.Error("token in a URL")
		}
		if resp, body := do(t, http.MethodGet, s.base+"/findings", nil, withCookie(c)); resp.StatusCode != 200 {
			t.Errorf("with cookie: %d %s", resp.StatusCode, body)
		}
		if resp, _ := do(t, http.MethodGet, s.base+"/api/findings", nil, withCookie(c)); resp.StatusCode != 200 {
			t.Errorf("api with cookie: %d", resp.StatusCode)
		}
		// An open redirect through next is refused.
		form2 := url.Values{"token": {token}, "next": {"//evil.example/"}}
		resp, _ = do(t, http.MethodPost, s.base+"/login", strings.NewReader(form2.Encode()), withHeader("Content-Type", "application/x-www-form-urlencoded"))
		if resp.Header.Get("Location") != "/" {
			t.Errorf("next //evil.example/ redirected to %q", resp.Header.Get("Location"))
		}
	})

	t.Run("host allowlist", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(s.addr)
		for _, tc := range []struct {
			host string
			want int
		}{
			{"evil.example:" + port, 421},
			{"evil.example", 421},
			{"localhost:1", 421},
			{"10.0.0.1:" + port, 421},
			{"localhost:" + port, 200},
			{"LOCALHOST:" + port, 200},
			{"127.0.0.1:" + port, 200},
			{"[::1]:" + port, 200},
			{"dash.example", 200},
			{"dash.example:8443", 200},
		} {
			t.Run(tc.host, func(t *testing.T) {
				resp, body := do(t, http.MethodGet, s.base+"/api/status", nil, bearer, withHost(tc.host))
				if resp.StatusCode != tc.want {
					t.Fatalf("Host %s: status %d, want %d: %s", tc.host, resp.StatusCode, tc.want, body)
				}
			})
		}
		// Assets are rejected for a foreign Host too.
		if resp, _ := do(t, http.MethodGet, s.base+s.srv.assets.URL("app.js"), nil, withHost("evil.example:"+port)); resp.StatusCode != 421 {
			t.Errorf("asset with foreign Host: %d", resp.StatusCode)
		}
	})

	t.Run("security headers on every response", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(s.addr)
		for _, tc := range []struct {
			name, path string
			opts       []reqOpt
		}{
			{"page", "/", []reqOpt{bearer}},
			{"api", "/api/status", []reqOpt{bearer}},
			{"401", "/api/status", nil},
			{"404 page", "/nope", []reqOpt{bearer}},
			{"login", "/login", nil},
			{"asset", s.srv.assets.URL("app.css"), nil},
			{"wrong host", "/", []reqOpt{withHost("evil.example:" + port)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, _ := do(t, http.MethodGet, s.base+tc.path, nil, tc.opts...)
				want := map[string]string{
					"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
					"X-Content-Type-Options":  "nosniff",
					"Referrer-Policy":         "no-referrer",
					"X-Frame-Options":         "DENY",
				}
				for k, v := range want {
					if got := resp.Header.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			})
		}
	})

	t.Run("websocket origin", func(t *testing.T) {
		for _, tc := range []struct {
			origin string
			ok     bool
		}{
			{"http://evil.example", false},
			{"http://localhost:1", false},
			{"null", false},
			{"file://" + s.addr, false},
			{"https://" + s.addr + ".evil.example", false},
			{s.base, true},
			{"", true}, // not a browser: no Origin, the token still applies
		} {
			t.Run(tc.origin, func(t *testing.T) {
				h := http.Header{"Authorization": {"Bearer " + token}}
				if tc.origin != "" {
					h.Set("Origin", tc.origin)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				conn, resp, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws", &websocket.DialOptions{HTTPHeader: h})
				if !tc.ok {
					if err == nil {
						conn.CloseNow()
						t.Fatal("foreign origin accepted")
					}
					if resp == nil || resp.StatusCode != 403 {
						t.Fatalf("want 403, got %v (%v)", resp, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("same-origin dial: %v", err)
				}
				defer conn.CloseNow()
				if _, _, err := conn.Read(ctx); err != nil {
					t.Fatalf("no message: %v", err)
				}
			})
		}
		// Without the token, same origin or not, the socket is refused.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws://"+s.addr+"/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {s.base}}})
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Errorf("websocket without token: %v %v", resp, err)
		}
	})
}

// hashedAsset is the content-hashed URL of the dashboard's own files and of the
// vendored scripts (assets/vendor).
var hashedAsset = regexp.MustCompile(`^/assets/(app|vendor/htmx-[0-9.]+\.min|vendor/htmx-ext-ws-[0-9.]+\.min)\.[0-9a-f]{8}\.(js|css)$`)

func TestPagesAndAssets(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	s := startServer(t, Config{}, env.In)
	_, body := do(t, http.MethodGet, s.base+"/", nil)
	doc := uitest.Parse(t, []byte(body))
	var urls []string
	for _, n := range uitest.All(doc.Root, func(n *htmlNode) bool { return n.Data == "script" || n.Data == "link" }) {
		src, ok := uitest.Attr(n, "src")
		if !ok {
			src, _ = uitest.Attr(n, "href")
		}
		if n.Data == "script" && (!ok || uitest.Text(n) != "") {
			t.Errorf("inline script: CSP forbids it")
		}
		if strings.HasSuffix(src, ".js") || strings.HasSuffix(src, ".css") {
			urls = append(urls, src)
		}
	}
	if len(urls) != 2+len(assets.VendorScripts()) {
		t.Fatalf("asset urls %v", urls)
	}
	for _, u := range urls {
		if !hashedAsset.MatchString(u) {
			t.Errorf("asset url %q is not content-hashed", u)
		}
		resp, _ := do(t, http.MethodGet, s.base+u, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d cache %q", u, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	if resp, _ := do(t, http.MethodGet, s.base+"/assets/app.00000000.js", nil); resp.StatusCode != 404 {
		t.Errorf("stale asset hash: %d", resp.StatusCode)
	}
	// No page may need inline style or event handler attributes, which the CSP blocks.
	for _, path := range []string{"/", "/sessions", "/findings", "/status", "/login", "/nope"} {
		_, body := do(t, http.MethodGet, s.base+path, nil)
		d := uitest.Parse(t, []byte(body))
		for _, n := range uitest.All(d.Root, func(*htmlNode) bool { return true }) {
			for _, a := range n.Attr {
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("%s: <%s %s=...> is blocked by the CSP", path, n.Data, a.Key)
				}
			}
		}
	}
	// The script never turns data into markup.
	js, err := files("app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	// Unknown routes are a friendly page, or JSON under /api/.
	resp, body := do(t, http.MethodGet, s.base+"/api/nope", nil)
	var e struct{ Error string }
	if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		t.Errorf("/api/nope: %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, http.MethodGet, s.base+"/nope", nil)
	if resp.StatusCode != 404 || !uitest.Parse(t, []byte(body)).Has("error-page") {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
}

// files reads an embedded asset through the server's own handler.
func files(name string) (string, error) {
	srv, err := New(Config{}, nil)
	if err != nil {
		return "", err
	}
	req, _ := http.NewRequest(http.MethodGet, srv.assets.URL(name), nil)
	rec := &recorder{header: http.Header{}}
	srv.assets.ServeHTTP(rec, req)
	if rec.status != 0 && rec.status != 200 {
		return "", errors.New("asset status " + http.StatusText(rec.status))
	}
	return rec.body.String(), nil
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// A browser opens connections ahead of need and may send nothing on them (Chromium's
// preconnects). Stopping must not wait for them: net/http's Shutdown counts such a
// connection busy for its first 5 seconds, which once failed a stop in CI.
func TestShutdownClosesSilentConnections(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Listen: ln.Addr().String(), ShutdownIn: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, env.In)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	uitest.WaitFor(t, "hub running", srv.hub.Running)

	silent, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// The server accepts in order: once a later connection is answered, the silent one
	// has been accepted and is the server's to close.
	if resp, _ := do(t, http.MethodGet, "http://"+ln.Addr().String()+"/api/status", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("status: %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v, want a clean stop", err)
	}
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the silent connection is still open after the stop (read %d, %v)", n, err)
	}
}
