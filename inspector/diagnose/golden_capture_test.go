package diagnose_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/inspectortest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

var update = flag.Bool("update", false, "rewrite inspector/diagnose/testdata/golden/*.har from fresh captures")

// goldenDir is where the golden HAR files live, from this package's directory.
const goldenDir = "testdata/golden"

// hangGuard bounds one browser step; it only turns a hang into a failure.
const hangGuard = browsertest.HangGuard

// TestCapture captures the golden HAR files of the diagnosis rules
// (inspector/diagnose/testdata/golden) from the project's own test apps: for each
// scenario it starts the real PHP or Node app against a throwaway Redis, puts
// sessionscope's capturing proxy in front of it with a HARWriter as its sink, and
// drives real Chromium through the proxy, so every file holds exactly what Chromium
// sent and stored. The harness is test-only:
//
//	go test ./inspector/diagnose -run TestCapture -update   # rewrite the golden files
//	SESSIONSCOPE_REQUIRE_REAL=1 go test ./inspector/diagnose -run TestCapture # capture afresh, compare rule ids
//
// Without -update a fresh capture goes to a temporary directory and must yield the
// same rule ids as the committed file, so the golden files stay what Chromium does.
func TestCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("captures in real Chromium take about a minute; not in -short mode")
	}
	started := time.Now()
	for _, need := range []struct{ bin, hint string }{
		{"php", "apt-get install php-cli php-redis"},
		{"node", "apt-get install nodejs"},
		{"redis-server", "apt-get install redis-server"},
	} {
		inspectortest.Need(t, need.bin, need.hint)
	}
	if _, err := browsertest.FindChromium(); err != nil {
		inspectortest.Missing(t, "chromium not found; install it with: apt-get install chromium (or set "+browsertest.ChromiumVar+")")
	}
	redis := redistest.Start(t, redistest.Options{})
	browser := browsertest.New(t)

	// One scenario at a time, each in its own browser context (cookie jar) with its
	// own app and proxy: running them in parallel is slower, Chromium is CPU-bound.
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), sc.name+".har")
			run(t, sc, redis, browser, path)
			got := ruleIDs(t, path)
			if !slices.Equal(got, sc.want) {
				t.Fatalf("the capture yields rules %v, want %v; the golden file is left as it was", got, sc.want)
			}
			committed := filepath.Join(goldenDir, sc.name+".har")
			if *update {
				b, err := os.ReadFile(path)
				if err == nil {
					err = os.WriteFile(committed, b, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s: rules %v", committed, got)
				return
			}
			if _, err := os.Stat(committed); err != nil {
				t.Fatalf("no committed golden file %s: run go test ./internal/golden -run TestCapture -update", committed)
			}
			if golden := ruleIDs(t, committed); !slices.Equal(got, golden) {
				t.Errorf("a fresh capture yields rules %v, the committed %s yields %v: Chromium or the apps changed; "+
					"check the difference and rerun with -update", got, committed, golden)
			}
		})
	}
	t.Logf("captured %d scenarios in %s", len(scenarios), time.Since(started).Round(100*time.Millisecond))
}

// ruleIDs analyses a HAR file as `sessionscope analyze` does and returns the sorted,
// distinct rule ids of its findings.
func ruleIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var xs []*model.Exchange
	sum, err := traffic.ReadHAR(f, traffic.HAROptions{Mapping: framework.RefMapper(nil), IDPrefix: "x"},
		func(x *model.Exchange) error { xs = append(xs, x); return nil })
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	fs := diagnose.AnalyzeExchanges(xs, diagnose.AnalyzeOptions{ValuesStripped: sum.ValuesStripped, CookiesAbsent: sum.CookiesAbsent,
		Mapping: framework.RefMapper(nil)})
	ids := []string{}
	for _, f := range fs {
		if !slices.Contains(ids, f.Rule) {
			ids = append(ids, f.Rule)
		}
		t.Logf("%s: %s", f.Rule, f.Title)
	}
	slices.Sort(ids)
	return ids
}

// run captures one scenario into path: app, proxy with a HARWriter sink, a fresh
// browser context (its own cookie jar), the flow, and a settled, closed HAR.
func run(t *testing.T, sc scenario, redis *redistest.Server, browser *browsertest.Browser, path string) {
	listenHost := hostIP
	if sc.lan {
		if listenHost = lanIPv4(); listenHost == "" {
			t.Skip("no non-loopback IPv4 address: this scenario needs an address Chromium does not treat as a secure context")
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s := &session{t: t, port: port, lan: listenHost}
	var tlsLn net.Listener
	if sc.tls {
		raw, err := net.Listen("tcp", net.JoinHostPort(listenHost, "0"))
		if err != nil {
			t.Fatal(err)
		}
		tlsLn = tls.NewListener(raw, selfSigned(t, listenHost))
		s.tlsPort = raw.Addr().(*net.TCPAddr).Port
	}
	expand := strings.NewReplacer("{port}", strconv.Itoa(port), "{tlsport}", strconv.Itoa(s.tlsPort), "{lan}", listenHost).Replace

	var upstream string
	switch sc.app {
	case appPHP:
		ini := append([]string(nil), phpClean...)
		if sc.phpDefaults {
			ini = nil
		}
		for _, setting := range sc.ini {
			ini = append(ini, expand(setting))
		}
		upstream = traffictest.StartPHP(t, redis.Addr, ini...).BaseURL
	case appNode:
		upstream = traffictest.StartNode(t, redis.URL()).BaseURL
	case appRedirect:
		upstream = startRedirect(t, sc.env...)
	}
	up, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}

	hw, err := traffic.CreateHARFile(path, traffic.HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var addErr error
	var addMu sync.Mutex
	proxy, err := traffic.NewProxy(traffic.ProxyConfig{Upstreams: []*url.URL{up}, Sink: func(x *model.Exchange) {
		if err := hw.Add(x); err != nil {
			addMu.Lock()
			addErr = err
			addMu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stopProxy := context.WithCancel(context.Background())
	served := make(chan error, 2)
	go func() { served <- proxy.Serve(ctx, ln) }()
	if tlsLn != nil {
		go func() { served <- proxy.Serve(ctx, tlsLn) }()
	}
	proxyDone := false
	stop := func() {
		if proxyDone {
			return
		}
		proxyDone = true
		stopProxy()
		for range 1 + btoi(tlsLn != nil) {
			if err := <-served; err != nil {
				t.Errorf("proxy: %v", err)
			}
		}
		if err := hw.Close(); err != nil {
			t.Errorf("har: %v", err)
		}
	}
	defer stop()

	tab, closeTab := chromedp.NewContext(browser.Context(), chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tab); err != nil { // opens the tab; no timeout, which would close it
		closeTab()
		t.Fatalf("open a tab: %v", err)
	}
	s.tab = tab
	if sc.tls {
		// The proxy's certificate is self-signed for this test.
		err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true})
			return err
		}))
		if err != nil {
			t.Fatalf("ignore certificate errors: %v", err)
		}
	}
	sc.flow(s)
	closeTab()

	// The proxy hands an exchange to the sink once its response has been streamed,
	// which can be just after the browser saw the load: wait until every exchange
	// the proxy counted is written and no more come.
	deadline := time.Now().Add(10 * time.Second)
	last, stable := -1, time.Now()
	for time.Now().Before(deadline) {
		n := hw.Entries()
		if n != last {
			last, stable = n, time.Now()
		}
		if uint64(n) == proxy.Stats().Total && time.Since(stable) > 150*time.Millisecond {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	addMu.Lock()
	defer addMu.Unlock()
	if addErr != nil {
		t.Fatalf("har: %v", addErr)
	}
	t.Logf("%d exchanges", last)
}

// session drives one scenario's browser context.
type session struct {
	t       *testing.T
	tab     context.Context
	port    int    // the proxy's plain http port
	tlsPort int    // the proxy's https port, for scenarios with tls
	lan     string // the address the proxy listens on
}

// url is the address of path on host through the proxy. host "{lan}" is the proxy's
// listen address; a host prefixed with https:// goes to the proxy's TLS port.
func (s *session) url(host, path string) string {
	scheme, port := "http", s.port
	if h, ok := strings.CutPrefix(host, "https://"); ok {
		scheme, port, host = "https", s.tlsPort, h
	}
	host = strings.ReplaceAll(host, "{lan}", s.lan)
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
}

// do runs steps that load a page and waits for it; it returns where the browser
// ended up, after the redirects it followed.
func (s *session) do(what string, steps ...chromedp.Action[chromedp.Void]) *url.URL {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.tab, hangGuard)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, steps...); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		s.t.Fatalf("%s: location: %v", what, err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		s.t.Fatalf("%s: location %q: %v", what, loc, err)
	}
	return u
}

// open navigates to path on host, as typing the address.
func (s *session) open(host, path string) *url.URL {
	s.t.Helper()
	u := s.url(host, path)
	return s.do("open "+u, chromedp.Navigate(u))
}

// click clicks the element (a link, a submit button) and waits for the page it loads.
func (s *session) click(sel string) *url.URL {
	s.t.Helper()
	return s.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// eval runs JavaScript that starts a navigation (a form it builds and submits) and
// waits for the page.
func (s *session) eval(js string) *url.URL {
	s.t.Helper()
	return s.do("script", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](js)(ctx, t)
		return err
	}))
}

// clearCookies empties the browser context's cookie jar, as a new visitor.
func (s *session) clearCookies() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.tab, hangGuard)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
	if err != nil {
		s.t.Fatalf("clear cookies: %v", err)
	}
}

// startRedirect runs the Node test app's redirect.js on a free loopback port and
// returns its base URL.
func startRedirect(t *testing.T, env ...string) string {
	t.Helper()
	node := inspectortest.Need(t, "node", "apt-get install nodejs")
	dir := traffictest.AppDir(t, "node")
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "redirect.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"PORT=" + strconv.Itoa(port)}, env...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redirect.js: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && strings.HasPrefix(sc.Text(), "listening")
		ready <- ok
		_, _ = io.Copy(io.Discard, out)
	}()
	fail := func(why string) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // stderr is complete once Wait returns
		t.Fatalf("redirect.js %s: %s", why, stderr.String())
	}
	select {
	case ok := <-ready:
		if !ok {
			fail("did not start")
		}
	case <-time.After(hangGuard):
		fail("not ready within " + hangGuard.String())
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// lanIPv4 is the first non-loopback IPv4 address of this machine, or "".
func lanIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// selfSigned is a TLS configuration with a throwaway certificate for ip.
func selfSigned(t *testing.T, ip string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}
