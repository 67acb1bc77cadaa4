package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// The golden HARs were captured from real Chromium through the proxy
// (inspector/diagnose golden_capture_test.go); analyze must name the loop's cause and attribute from them.
func TestAnalyzeGoldenCaptures(t *testing.T) {
	const dir = "../../inspector/diagnose/testdata/golden/"
	tests := []struct {
		file   string
		code   int
		stdout []string
	}{
		{"loop_path.har", 1, []string{"cookie-not-sent", "NotOnPath", "Path=/admin", "login-loop",
			"Root cause: cookie-not-sent (NotOnPath: PHPSESSID has Path=/admin but the request went to",
			"session_set_cookie_params(['path' => '/'])"}},
		{"loop_domain_invalid.har", 1, []string{"cookie-rejected", "InvalidDomain", "Domain=localhost", "login-loop",
			"Root cause: cookie-rejected (InvalidDomain: PHPSESSID has Domain=localhost but the response came from 127.0.0.1"}},
		{"loop_domain_mismatch.har", 1, []string{"cookie-not-sent", "DomainMismatch", "login-loop",
			"Root cause: cookie-not-sent (DomainMismatch: PHPSESSID is host-only for login.shop.localhost but the request went to app.shop.localhost)"}},
		{"loop_path_fixed.har", 0, []string{"0 findings"}},
		{"loop_domain_mismatch_fixed.har", 0, []string{"0 findings"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main([]string{"analyze", "--color", "never", dir + tc.file}, env(nil), &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func TestHAROutNeedsProxy(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main([]string{"watch", "--redis", "redis://127.0.0.1:6379/0", "--har-out", "x.har"}, env(nil), &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "--har-out x.har needs --proxy-to") {
		t.Fatalf("exit %d, stderr %q; want 2 and a message naming --har-out and --proxy-to", code, errOut.String())
	}
	var help bytes.Buffer
	Main([]string{"serve", "--help"}, env(nil), &out, &help)
	if !strings.Contains(help.String(), "-har-out") || !strings.Contains(help.String(), "live session cookies") {
		t.Errorf("serve --help does not describe --har-out and its credentials:\n%s", help.String())
	}
}

// TestWatchHAROut captures a login loop with `watch --proxy-to --har-out` and analyzes
// the file the way a user would afterwards.
func TestWatchHAROut(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	n := 0
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			if r.Method == http.MethodPost {
				n++
				// A session cookie scoped to /admin: the dashboard never gets it.
				w.Header().Add("Set-Cookie", fmt.Sprintf("PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2k%02d; Path=/admin; HttpOnly; Secure; SameSite=Lax", n))
				http.Redirect(w, r, "/dashboard", http.StatusFound)
				return
			}
			fmt.Fprintln(w, "login form")
		case "/dashboard":
			if _, err := r.Cookie("PHPSESSID"); err != nil {
				http.Redirect(w, r, "/login", http.StatusFound)
				return
			}
			fmt.Fprintln(w, "dashboard")
		}
	}))
	defer app.Close()
	har := filepath.Join(t.TempDir(), "capture.har")
	// Port 0: the proxy binds a free port itself and prints it, so no other test can
	// take the port between choosing and binding it.
	w := startWatch(t, "--redis", srv.URL(), "--proxy-to", app.URL, "--proxy-listen", "127.0.0.1:0", "--har-out", har)
	w.waitLive()
	if !strings.Contains(w.stderrText(), "live session cookies") {
		t.Errorf("watch does not warn that the HAR holds live session cookies:\n%s", w.stderrText())
	}
	_, rest, ok := strings.Cut(w.stderrText(), "proxy on http://")
	listen, _, _ := strings.Cut(rest, "/")
	if !ok || listen == "" {
		t.Fatalf("watch printed no proxy address:\n%s", w.stderrText())
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string) {
		req, _ := http.NewRequest(method, "http://"+listen+path, nil)
		req.Header.Set("User-Agent", "golden-test")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	for range 2 { // the user tries twice
		do("GET", "/dashboard")
		do("GET", "/login")
		do("POST", "/login")
		do("GET", "/dashboard") // the browser holds the /admin cookie and does not send it here
		do("GET", "/login")
	}
	seen := 0
	w.waitFor("the tenth exchange", func(l line) bool {
		if l.Type == model.TypeExchange {
			seen++
		}
		return seen == 10
	})

	if err := w.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("watch did not exit after Ctrl-C")
	}
	st, err := os.Stat(har)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf("%s has mode %v; a file with session cookies must be owner-only", har, st.Mode().Perm())
	}
	var out, errOut bytes.Buffer
	code := Main([]string{"analyze", "--color", "never", har}, env(nil), &out, &errOut)
	if code != 1 {
		t.Fatalf("analyze exit %d, want 1\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	for _, s := range []string{"10 exchanges", "cookie-not-sent", "NotOnPath", "Path=/admin", "login-loop", "Root cause: cookie-not-sent (NotOnPath"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("analyze of the capture lacks %q:\n%s", s, out.String())
		}
	}
}
