package traffic

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// warnings collects the proxy's Warn lines.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) add(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, line)
}

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// TestProxyBadGatewayPage: an upstream that is down gets the browser a page naming
// the upstream, its URL and the failure, escaped; other clients a plain line; the
// exchange keeps the error; the terminal gets one line, not one per request.
func TestProxyBadGatewayPage(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	up.Close() // nothing listens there now
	upURL := up.URL
	var warned warnings
	_, pu, ch := startProxy(t, ProxyConfig{Logger: discardLogger(), UpstreamNames: []string{"<b>shop</b>"}, Warn: warned.add}, up)

	res, body := get(t, client(), pu+"/login?PHPSESSID=abcdefabcdefabcdefabcdef", map[string]string{"Accept": "text/html,application/xhtml+xml"})
	if res.StatusCode != http.StatusBadGateway || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{"&lt;b&gt;shop&lt;/b&gt;", upURL, "refused the connection", "start the app, or check <code>--proxy-to</code>", `data-testid="bad-gateway"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the 502 page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<b>shop</b>") {
		t.Error("the upstream's name reached the page unescaped")
	}
	if strings.Contains(body, "abcdefabcdefabcdefabcdef") {
		t.Error("the session id in the URL reached the page unmasked")
	}
	x := next(t, ch)
	if x.Status != http.StatusBadGateway || !strings.Contains(x.Error, "refused the connection") || x.UpstreamName != "<b>shop</b>" {
		t.Errorf("exchange status %d, error %q, upstream name %q", x.Status, x.Error, x.UpstreamName)
	}

	res, body = get(t, client(), pu+"/api/me", map[string]string{"Accept": "application/json"})
	if res.StatusCode != http.StatusBadGateway || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("non-HTML client: status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if want := "502 Bad Gateway: upstream <b>shop</b> (" + upURL + ") refused the connection"; !strings.HasPrefix(body, want) || strings.Count(body, "\n") != 1 {
		t.Errorf("non-HTML body %q, want one line starting %q", body, want)
	}
	next(t, ch)

	lines := warned.all()
	if len(lines) != 1 {
		t.Fatalf("two failed requests gave %d warnings, want one: %q", len(lines), lines)
	}
	if !strings.Contains(lines[0], "upstream <b>shop</b> ("+upURL+") refused the connection") || !strings.Contains(lines[0], "--proxy-to") ||
		strings.Contains(lines[0], "level=") || strings.Contains(lines[0], "abcdefabcdefabcdefabcdef") {
		t.Errorf("warning %q: want the upstream, how it failed and what to do, in one plain line", lines[0])
	}
}

// TestProxyUpstreamRecovers: after an upstream that dropped connections answers again
// the proxy says so once, and says the next failure again.
func TestProxyUpstreamRecovers(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close() // hang up without answering
			}
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer up.Close()
	var warned warnings
	_, pu, ch := startProxy(t, ProxyConfig{Logger: discardLogger(), Warn: warned.add}, up)
	host := mustURL(t, up.URL).Host

	res, _ := get(t, client(), pu+"/", nil)
	if res.StatusCode != http.StatusBadGateway {
		t.Fatalf("hung-up upstream: status %d", res.StatusCode)
	}
	if x := next(t, ch); x.UpstreamName != "" || x.Upstream != host {
		t.Errorf("unnamed upstream: name %q upstream %q, want no name and %s", x.UpstreamName, x.Upstream, host)
	}
	failing.Store(false)
	if res, body := get(t, client(), pu+"/", nil); res.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("recovered upstream: %d %q", res.StatusCode, body)
	}
	next(t, ch)
	failing.Store(true)
	get(t, client(), pu+"/", nil)
	next(t, ch)

	lines := warned.all()
	if len(lines) != 3 {
		t.Fatalf("fail, recover, fail gave %d warnings, want 3: %q", len(lines), lines)
	}
	if !strings.Contains(lines[0], "upstream "+host+" (http://"+host+") closed the connection without answering") {
		t.Errorf("first warning %q: want the host:port as the name and the hang-up in words", lines[0])
	}
	if !strings.Contains(lines[1], "answers again") || !strings.Contains(lines[2], "closed the connection") {
		t.Errorf("warnings %q: want a recovery line, then the failure again", lines[1:])
	}
}

// TestProxyNamedUpstreams: names label the exchanges and the proxy's info, index for
// index; the info's listen URL is the one a browser opens.
func TestProxyNamedUpstreams(t *testing.T) {
	hello := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	}
	a, b := hello("a"), hello("b")
	defer a.Close()
	defer b.Close()
	p, pu, ch := startProxy(t, ProxyConfig{Logger: discardLogger(), UpstreamNames: []string{"app-a", "app-b"}}, a, b)
	names := map[string]string{} // body -> the exchange's upstream name
	for range 2 {
		_, body := get(t, client(), pu+"/", nil)
		x := next(t, ch)
		names[body] = x.UpstreamName
	}
	if names["a"] != "app-a" || names["b"] != "app-b" {
		t.Errorf("exchange upstream names %v, want a: app-a, b: app-b", names)
	}

	bound, err := net.ResolveTCPAddr("tcp", strings.TrimPrefix(pu, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info(bound)
	want := model.ProxyInfo{Listen: pu + "/", Upstreams: []model.ProxyUpstream{{Name: "app-a", URL: a.URL}, {Name: "app-b", URL: b.URL}}}
	if fmt.Sprint(info) != fmt.Sprint(want) {
		t.Errorf("Info = %+v, want %+v", info, want)
	}

	if _, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{mustURL(t, a.URL)}, UpstreamNames: []string{"x", "y"}}); err == nil {
		t.Error("more names than upstreams: accepted")
	}
}

func TestListenURL(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1:7080", "http://127.0.0.1:7080/"},
		{"0.0.0.0:7080", "http://127.0.0.1:7080/"},
		{"[::]:7080", "http://127.0.0.1:7080/"},
		{":7080", "http://127.0.0.1:7080/"},
		{"[::1]:7080", "http://[::1]:7080/"},
		{"localhost:7080", "http://localhost:7080/"},
	} {
		if got := ListenURL(tc.addr); got != tc.want {
			t.Errorf("ListenURL(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestUpstreamFailureWords(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "refused the connection (nothing listens on 127.0.0.1:8080)"},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, "reset the connection"},
		{"dns", &net.DNSError{Name: "app.invalid", Err: "no such host"}, "does not resolve (app.invalid)"},
		{"eof", fmt.Errorf("read: %w", io.EOF), "closed the connection without answering"},
		{"timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, "did not answer in time"},
		{"other", errors.New("something odd"), "failed: something odd"},
	} {
		if got := upstreamFailure(tc.err, "127.0.0.1:8080"); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
