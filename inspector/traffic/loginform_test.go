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

func TestLoginFormScan(t *testing.T) {
	html := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	tests := []struct {
		name   string
		header http.Header
		chunks []string
		want   bool
	}{
		{"a password input", html, []string{`<form><input TYPE="Password" name=pw></form>`}, true},
		{"unquoted, split across writes", html, []string{`<form><input ty`, `pe=passw`, `ord name=pw>`}, true},
		{"single quotes", html, []string{`<input type='password'>`}, true},
		{"no password input", html, []string{`<form><input name=user></form>`}, false},
		{"not HTML", http.Header{"Content-Type": {"application/json"}}, []string{`{"type":"password"}`}, false},
		{"no content type", http.Header{}, []string{`<input type=password>`}, false},
		{"past the scanned prefix", html, []string{strings.Repeat(" ", maxLoginFormScan), `<input type=password>`}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s loginFormScan
			for _, c := range tc.chunks {
				s.write(tc.header, []byte(c))
			}
			if s.found != tc.want {
				t.Errorf("found %v, want %v", s.found, tc.want)
			}
		})
	}
}

// TestProxyRecordsLoginForm: the proxy marks an HTML response holding a password
// input, and the mark survives the HAR it writes.
func TestProxyRecordsLoginForm(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		switch r.URL.Path {
		case "/login":
			fmt.Fprint(w, `<!doctype html><form method=post><input name=user>`)
			w.(http.Flusher).Flush()
			fmt.Fprint(w, `<input type="password" name=pw><button>Log in</button></form>`)
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
	want := map[string]bool{"/login": true, "/dashboard": false}
	for _, path := range []string{"/login", "/dashboard"} {
		resp, _ := get(t, c, base+path, nil)
		resp.Body.Close()
		select {
		case x := <-added:
			if x.LoginForm != want[path] {
				t.Errorf("%s: LoginForm %v, want %v", path, x.LoginForm, want[path])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no exchange", path)
		}
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	if _, err := ReadHAR(bytes.NewReader(buf.Bytes()), HAROptions{}, func(x *model.Exchange) error {
		got[x.URL[strings.LastIndex(x.URL, "/"):]] = x.LoginForm
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("read back %s: LoginForm %v, want %v", path, got[path], w)
		}
	}
}
