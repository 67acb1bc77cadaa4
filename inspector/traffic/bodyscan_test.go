package traffic

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestBodyScan: the two marks, found in HTML only, within the scanned prefix,
// however the body is cut into writes.
func TestBodyScan(t *testing.T) {
	html := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	tests := []struct {
		name                      string
		header                    http.Header
		chunks                    []string
		loginForm, clientRedirect bool
	}{
		{"a password input", html, []string{`<form><input TYPE="Password" name=pw></form>`}, true, false},
		{"unquoted, split across writes", html, []string{`<form><input ty`, `pe=passw`, `ord name=pw>`}, true, false},
		{"single quotes", html, []string{`<input type='password'>`}, true, false},
		{"no password input", html, []string{`<form><input name=user></form>`}, false, false},
		{"not HTML", http.Header{"Content-Type": {"application/json"}}, []string{`{"type":"password","location.href":1}`}, false, false},
		{"no content type", http.Header{}, []string{`<input type=password>`}, false, false},
		{"past the scanned prefix", html, []string{strings.Repeat(" ", maxBodyScan), `<input type=password><meta http-equiv=refresh>`}, false, false},
		{"meta refresh", html, []string{`<meta HTTP-EQUIV="Refresh" content="0; url=/login">`}, false, true},
		{"meta refresh unquoted, split", html, []string{`<meta http-eq`, `uiv=refresh content=0>`}, false, true},
		{"script assigns location.href", html, []string{`<script>location.href = "/index.php";</script>`}, false, true},
		{"window.location =", html, []string{`<script>window.location = '/login'</script>`}, false, true},
		{"location.replace, split", html, []string{`<script>location.repl`, `ace("/login")</script>`}, false, true},
		{"a script without a redirect", html, []string{`<p>dashboard</p><script>fetch("/api")</script>`}, false, false},
		{"both marks", html, []string{`<form><input type=password></form><script>location.assign("/x")</script>`}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s bodyScan
			for _, c := range tc.chunks {
				s.write(tc.header, []byte(c))
			}
			if s.loginForm != tc.loginForm || s.clientRedirect != tc.clientRedirect {
				t.Errorf("loginForm %v clientRedirect %v, want %v %v", s.loginForm, s.clientRedirect, tc.loginForm, tc.clientRedirect)
			}
		})
	}
}

// TestProxyRecordsBodyMarks: the proxy marks an HTML response holding a password
// input, and one that redirects from the page, and the marks survive the HAR it
// writes.
func TestProxyRecordsBodyMarks(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/login":
			fmt.Fprint(w, `<!doctype html><form method=post><input name=user>`)
			w.(http.Flusher).Flush()
			fmt.Fprint(w, `<input type="password" name=pw><button>Log in</button></form>`)
		case "/bounce":
			fmt.Fprint(w, `<!doctype html><p>Redirecting…</p><script>location.href = "/login";</script>`)
		default:
			fmt.Fprint(w, `<!doctype html><p>dashboard</p>`)
		}
	}))
	defer up.Close()
	var buf lockedBuffer
	hw, err := NewHARWriter(&buf, HARWriterOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	added := make(chan *model.Exchange, 4)
	base := serveHARProxy(t, up.URL, func(x *model.Exchange) {
		if err := hw.Add(x); err != nil {
			t.Errorf("Add: %v", err)
		}
		added <- x
	})
	c := client()
	type marks struct{ loginForm, clientRedirect bool }
	want := map[string]marks{"/login": {true, false}, "/dashboard": {false, false}, "/bounce": {false, true}}
	for _, path := range []string{"/login", "/dashboard", "/bounce"} {
		resp, _ := get(t, c, base+path, nil)
		resp.Body.Close()
		select {
		case x := <-added:
			if got := (marks{x.LoginForm, x.ClientRedirect}); got != want[path] {
				t.Errorf("%s: marks %+v, want %+v", path, got, want[path])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no exchange", path)
		}
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]marks{}
	if _, err := ReadHAR(bytes.NewReader(buf.Bytes()), HAROptions{}, func(x *model.Exchange) error {
		got[x.URL[strings.LastIndex(x.URL, "/"):]] = marks{x.LoginForm, x.ClientRedirect}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("read back %s: marks %+v, want %+v", path, got[path], w)
		}
	}
}
