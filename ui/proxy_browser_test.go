package ui_test

// Real-browser tests of the proxy on screen: the Status card, /api/status, the
// Requests screen's empty state and its flow link, and the named lanes.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// startProxy serves a real capturing proxy in front of app, under the name name,
// feeding env's inspector as the command line does, and returns its URL.
func startProxy(t *testing.T, env *uitest.Env, name string, app *httptest.Server) string {
	t.Helper()
	p, err := traffic.NewProxy(traffic.ProxyConfig{Upstreams: []*url.URL{mustParse(t, app.URL)}, UpstreamNames: []string{name},
		Sink: env.In.PublishExchange, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info(ln.Addr())
	env.In.SetProxy(info)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	})
	return info.Listen
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestBrowserProxyOnScreen: with a proxy running, Status and /api/status give its
// address and named upstream; the empty Requests screen says to open that address;
// its "Flow view →" appears with the first pushed row, and the flow's lane carries
// the upstream's name, not its port.
func TestBrowserProxyOnScreen(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<p>shop</p>") }))
	defer app.Close()
	proxyURL := startProxy(t, env, "shop", app)
	if !strings.HasPrefix(proxyURL, "http://127.0.0.1:") || !strings.HasSuffix(proxyURL, "/") {
		t.Fatalf("proxy URL %q: want http://127.0.0.1:PORT/", proxyURL)
	}
	d := startDashboard(t, env, nil)

	// The API.
	res, err := http.Get(d.base + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Proxy *model.ProxyInfo `json:"proxy"`
	}
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.Proxy == nil || st.Proxy.Listen != proxyURL || len(st.Proxy.Upstreams) != 1 ||
		st.Proxy.Upstreams[0] != (model.ProxyUpstream{Name: "shop", URL: app.URL}) {
		t.Errorf("/api/status proxy = %+v, want listen %s and upstream shop %s", st.Proxy, proxyURL, app.URL)
	}

	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	// The Status screen.
	b.Navigate(d.base + "/status")
	b.WaitTestID("proxy")
	if got := browsertest.Eval[string](b, `document.querySelector('[data-testid="proxy-listen"]').getAttribute("href")`); got != proxyURL {
		t.Errorf("Status: proxy link %q, want %q", got, proxyURL)
	}
	if txt := b.TextByTestID("proxy-upstreams"); !strings.Contains(txt, "shop") || !strings.Contains(txt, app.URL) {
		t.Errorf("Status: upstreams %q, want shop and %s", txt, app.URL)
	}

	// The empty Requests screen points at the proxy; the flow link waits for a row.
	b.Navigate(d.base + "/requests")
	b.WaitTestID("requests")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	if got := browsertest.Eval[string](b, `document.querySelector('[data-testid="empty-proxy-url"]').getAttribute("href")`); got != proxyURL {
		t.Errorf("empty state links %q, want the proxy %s", got, proxyURL)
	}
	if txt := b.TextByTestID("empty-state"); !strings.Contains(txt, "Open "+proxyURL+" (the proxy) in your browser") {
		t.Errorf("empty state %q does not say to open the proxy", txt)
	}
	if !browsertest.Eval[bool](b, `document.getElementById("requests-flow").hidden`) {
		t.Error("Flow view → is shown before there is any request")
	}

	res, err = http.Get(proxyURL + "cart")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	b.WaitReady(`[data-testid="request-row"]`)
	b.WaitJS("Flow view → to appear", `!document.getElementById("requests-flow").hidden && document.getElementById("requests-empty").hidden`)
	if up := browsertest.Run(b, chromedp.TextContent(chromedp.CSS(`[data-testid="request-row"] .c-up`))); up != "shop" {
		t.Errorf("upstream cell %q, want shop", up)
	}

	// The flow, through the link that appeared: its lane is named shop.
	b.Load(chromedp.Click(browsertest.TestID("requests-flow")))
	b.WaitReady(`svg[data-testid="flow"]`)
	lanes := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid="flow-lane"]')).map(function (l) { return l.dataset.name })`)
	if !contains(lanes, "shop") || containsSub(lanes, ":") {
		t.Errorf("flow lanes %v, want one named shop and none named by a port", lanes)
	}
}

// TestRequestsEmptyWithoutProxy: with no proxy the empty Requests screen and the
// Status card give the command that starts one on the store watched now.
func TestRequestsEmptyWithoutProxy(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	for _, page := range []struct{ path, id string }{{"/requests", "empty-proxy-command"}, {"/status", "proxy-command"}} {
		res, err := http.Get(d.base + page.path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		doc := uitest.Parse(t, body)
		want := "sessionscope serve --redis " + env.Srv.URL() + " --proxy-to http://127.0.0.1:8000"
		if got := uitest.Text(doc.One(page.id)); got != want {
			t.Errorf("%s: command %q, want %q", page.path, got, want)
		}
	}
	res, err := http.Get(d.base + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]json.RawMessage
	err = json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := st["proxy"]; !ok || string(p) != "null" {
		t.Errorf(`/api/status "proxy" = %s (present %v), want null`, p, ok)
	}
}
