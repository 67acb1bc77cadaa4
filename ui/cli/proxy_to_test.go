package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestParseProxyTo: --proxy-to takes a plain URL or NAME=URL, several times.
func TestParseProxyTo(t *testing.T) {
	cases := []struct {
		name      string
		proxyTo   []string
		wantHosts []string
		wantNames []string
	}{
		{"plain", []string{"http://127.0.0.1:8080"}, []string{"127.0.0.1:8080"}, []string{""}},
		{"named", []string{"shop=http://127.0.0.1:8080"}, []string{"127.0.0.1:8080"}, []string{"shop"}},
		{"mixed", []string{"app-1=http://10.0.0.1:80", "https://10.0.0.2:443"}, []string{"10.0.0.1:80", "10.0.0.2:443"}, []string{"app-1", ""}},
		{"query with =", []string{"http://127.0.0.1:8080/?a=b"}, []string{"127.0.0.1:8080"}, []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"watch", "--redis", "redis://h/0"}
			for _, p := range tc.proxyTo {
				args = append(args, "--proxy-to", p)
			}
			checkParse(t, args, nil, func(t *testing.T, c Config) {
				var hosts []string
				for _, u := range c.proxyUpstreams {
					hosts = append(hosts, u.Host)
				}
				if strings.Join(hosts, " ") != strings.Join(tc.wantHosts, " ") || strings.Join(c.proxyNames, "|") != strings.Join(tc.wantNames, "|") {
					t.Errorf("upstreams %v names %q, want %v %q", hosts, c.proxyNames, tc.wantHosts, tc.wantNames)
				}
			}, "")
		})
	}
}

// TestProxyToUsageErrors: a bad --proxy-to stops sessionscope with one line naming
// the flag and what it accepts, exit 2.
func TestProxyToUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []string
		want  string
	}{
		{"not a URL", []string{"localhost:8080"}, "want the app's base URL or NAME=URL"},
		{"named, bad scheme", []string{"shop=ftp://127.0.0.1:21"}, "want the app's base URL or NAME=URL"},
		{"bad name", []string{"my shop=http://127.0.0.1:8080"}, "NAME must be 1 to 40 letters"},
		{"empty name", []string{"=http://127.0.0.1:8080"}, "NAME must be 1 to 40 letters"},
		{"name twice", []string{"a=http://127.0.0.1:1", "a=http://127.0.0.1:2"}, "the name a is given to another upstream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"watch", "--redis", "redis://127.0.0.1:1/0"}
			for _, v := range tc.value {
				args = append(args, "--proxy-to", v)
			}
			var stdout, stderr bytes.Buffer
			code := Main(args, testEnv(t, nil), &stdout, &stderr)
			msg := stderr.String()
			if code != 2 || !strings.HasPrefix(msg, "sessionscope: --proxy-to ") || !strings.Contains(msg, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and a line naming --proxy-to and %q", code, msg, tc.want)
			}
			if n := strings.Count(msg, "\n"); n != 1 {
				t.Errorf("%d lines on stderr, want one:\n%s", n, msg)
			}
		})
	}
}

// TestWatchNamedUpstreams: watch with --proxy-to NAME=URL names the upstreams in its
// start line and on the exchanges, and says in its own line format, once, which
// upstream is down.
func TestWatchNamedUpstreams(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "shop here") }))
	defer app.Close()
	gone := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	gone.Close() // nothing listens there now
	w := startWatch(t, "--redis", srv.URL(), "--proxy-listen", "127.0.0.1:0",
		"--proxy-to", "shop="+app.URL, "--proxy-to", "billing="+gone.URL)
	addr := w.proxyAddr()
	if text := w.stderrText(); !strings.Contains(text, "shop="+app.URL) || !strings.Contains(text, "billing="+gone.URL) {
		t.Errorf("the start line does not name the upstreams:\n%s", text)
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	statuses := map[int]int{}
	for range 4 { // round-robin: two to each
		res, err := c.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		statuses[res.StatusCode]++
	}
	if statuses[200] != 2 || statuses[502] != 2 {
		t.Errorf("statuses %v, want two 200 from shop and two 502 from billing", statuses)
	}
	w.waitFor("an exchange from shop", func(l line) bool {
		return l.Type == model.TypeExchange && strings.Contains(l.raw, `"upstream_name":"shop"`) && strings.Contains(l.raw, `"status":200`)
	})
	w.waitFor("an exchange from billing", func(l line) bool {
		return l.Type == model.TypeExchange && strings.Contains(l.raw, `"upstream_name":"billing"`) && strings.Contains(l.raw, `"status":502`)
	})
	want := "sessionscope: proxy: upstream billing (" + gone.URL + ") refused the connection"
	deadline := time.Now().Add(30 * time.Second) // a hang guard: the line is written before the 502
	for !strings.Contains(w.stderrText(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no line %q on stderr:\n%s", want, w.stderrText())
		}
		time.Sleep(10 * time.Millisecond)
	}
	text := w.stderrText()
	if n := strings.Count(text, "upstream billing ("); n != 1 {
		t.Errorf("the down upstream was reported %d times, want once:\n%s", n, text)
	}
	if strings.Contains(text, "level=WARN") {
		t.Errorf("a proxy warning came as a log record:\n%s", text)
	}
}
