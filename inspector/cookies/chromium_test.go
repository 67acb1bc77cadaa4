package cookies

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
)

// TestChromiumGroundTruth runs every case of realCases in headless Chromium, reads
// Chromium's verdicts from DevTools (responseReceivedExtraInfo.blockedCookies for
// Set-Cookie lines, requestWillBeSentExtraInfo.associatedCookies for the request)
// and its cookie jar (Storage.getCookies), and checks that they equal both the
// case's want and this package's verdicts for the same context.
func TestChromiumGroundTruth(t *testing.T) {
	groundTruth(t, browsertest.New(t))
}

func groundTruth(t *testing.T, b *browsertest.Browser) {
	ln, err := net.Listen("tcp", ":0") // all interfaces: loopback and the public address
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(serveCase))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	h := hosts{port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), pub: publicIPv4()}

	rec := newRecorder()
	if err := chromedp.Listen(b.Context(), rec.onEvent); err != nil {
		t.Fatal(err)
	}
	for _, tc := range realCases {
		t.Run(tc.name, func(t *testing.T) {
			if h.pub == "" && usesPublic(tc) {
				t.Skip("no non-loopback IPv4 address on this machine to serve an insecure origin from")
			}
			ctx, cancel := b.Guard()
			defer cancel()
			if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, struct{}{}); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.RunResponse(ctx, chromedp.Navigate("about:blank")); err != nil {
				t.Logf("about:blank: %v", err)
			}
			model := &modelRun{h: h}
			var gotC, gotM []string
			for i, st := range tc.steps {
				gotC = runChromium(t, ctx, rec, h, tc.name, i, st)
				gotM = model.step(st)
			}
			if !slices.Equal(gotC, tc.want) {
				t.Errorf("Chromium did:\n\t%s\nwant:\n\t%s", strings.Join(gotC, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			if !slices.Equal(gotM, gotC) {
				t.Errorf("sessionscope says:\n\t%s\nChromium did:\n\t%s", strings.Join(gotM, "\n\t"), strings.Join(gotC, "\n\t"))
			}
		})
	}
}

func usesPublic(tc realCase) bool {
	for _, st := range tc.steps {
		if strings.Contains(st.url, "{P}") || slices.ContainsFunc(st.via, func(v string) bool { return strings.Contains(v, "{P}") }) {
			return true
		}
	}
	return false
}

// publicIPv4 is a non-loopback IPv4 address of this machine: http to it is an
// insecure origin, unlike every loopback name.
func publicIPv4() string {
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

// serveCase answers every path: with ?to= it redirects there; otherwise it sets
// each ?c= as a Set-Cookie line and tags the response with ?n= for the recorder.
func serveCase(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Step", q.Get("n"))
	for _, c := range q["c"] {
		w.Header().Add("Set-Cookie", c)
	}
	if to := q.Get("to"); to != "" {
		http.Redirect(w, r, to, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><title>cookie case</title><body>ok</body>")
}

// recorder keeps the DevTools events the cases read.
type recorder struct {
	mu        sync.Mutex
	hops      map[network.RequestID][]string // URLs of each hop, in order
	reqExtra  map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo
	respExtra map[string]*network.EventResponseReceivedExtraInfo // by X-Step
	seq       int                                                // numbers the steps
}

func newRecorder() *recorder {
	return &recorder{
		hops:      map[network.RequestID][]string{},
		reqExtra:  map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo{},
		respExtra: map[string]*network.EventResponseReceivedExtraInfo{},
	}
}

func (r *recorder) onEvent(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Request != nil {
			r.hops[e.RequestID] = append(r.hops[e.RequestID], e.Request.URL)
		}
	case *network.EventRequestWillBeSentExtraInfo:
		r.reqExtra[e.RequestID] = append(r.reqExtra[e.RequestID], e)
	case *network.EventResponseReceivedExtraInfo:
		for k, v := range e.Headers {
			if strings.EqualFold(k, "X-Step") {
				if s, ok := v.(string); ok {
					r.respExtra[s] = e
				}
			}
		}
	}
}

// request returns the requestWillBeSentExtraInfo of the hop that fetched u.
func (r *recorder) request(u string) *network.EventRequestWillBeSentExtraInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, hs := range r.hops {
		if k := slices.Index(hs, u); k >= 0 && k < len(r.reqExtra[id]) {
			return r.reqExtra[id][k]
		}
	}
	return nil
}

func (r *recorder) response(n string) *network.EventResponseReceivedExtraInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.respExtra[n]
}

func waitFor[T any](t *testing.T, what string, get func() *T) *T {
	t.Helper()
	deadline := time.Now().Add(browsertest.HangGuard)
	for {
		if v := get(); v != nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s from Chromium", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func evalVoid(js string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](js)(ctx, tg)
		return chromedp.Void{}, err
	}
}

// runChromium performs one step in the browser and summarises what Chromium did.
func runChromium(t *testing.T, ctx context.Context, rec *recorder, h hosts, name string, i int, st step) []string {
	t.Helper()
	rec.mu.Lock()
	rec.seq++
	n := strconv.Itoa(rec.seq)
	rec.mu.Unlock()
	final := h.expand(st.url)
	if st.how == "cdpset" {
		name, value, _ := strings.Cut(st.set[0], "=")
		value, _, _ = strings.Cut(value, ";")
		secure := strings.Contains(st.set[0], "Secure")
		u := mustURL(final)
		u.Scheme = "https" // Chromium refuses Secure cookies for an insecure URL, even here
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: name, Value: value, URL: u.String(), Path: "/", Secure: &secure,
		}); err != nil {
			t.Fatalf("step %d: setCookie: %v", i, err)
		}
		return nil
	}
	q := url.Values{"n": {n}}
	for _, c := range st.set {
		q.Add("c", c)
	}
	final += "?" + q.Encode()
	target := final
	for k := len(st.via) - 1; k >= 0; k-- {
		target = h.expand(st.via[k]) + "?" + url.Values{"n": {n + "." + strconv.Itoa(k)}, "to": {target}}.Encode()
	}
	var err error
	switch st.how {
	case "nav":
		_, err = chromedp.RunResponse(ctx, chromedp.Navigate(target))
	case "link":
		_, err = chromedp.RunResponse(ctx, evalVoid(`(()=>{const a=document.createElement('a');a.href=`+
			browsertest.Quote(target)+`;document.body.appendChild(a);a.click();return true})()`))
	case "post":
		_, err = chromedp.RunResponse(ctx, evalVoid(`(()=>{const f=document.createElement('form');f.method='POST';f.action=`+
			browsertest.Quote(target)+`;const i=document.createElement('input');i.name='x';i.value='1';f.appendChild(i);`+
			`document.body.appendChild(f);f.submit();return true})()`))
	case "fetch":
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`fetch(`+browsertest.Quote(target)+
			`,{credentials:'include',mode:'no-cors'}).then(()=>true)`, chromedp.EvalAwaitPromise))
	default:
		t.Fatalf("step %d: unknown how %q", i, st.how)
	}
	if err != nil {
		t.Fatalf("step %d (%s %s): %v", i, st.how, target, err)
	}
	reqInfo := waitFor(t, "requestWillBeSentExtraInfo for "+final, func() *network.EventRequestWillBeSentExtraInfo { return rec.request(final) })
	respInfo := waitFor(t, "responseReceivedExtraInfo for "+final, func() *network.EventResponseReceivedExtraInfo { return rec.response(n) })

	jar, err := chromedp.Call(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		t.Fatalf("step %d: getCookies: %v", i, err)
	}
	var out []string
	for _, ac := range reqInfo.AssociatedCookies {
		var rs []string
		for _, r := range ac.BlockedReasons {
			rs = append(rs, string(r))
		}
		out = append(out, sendLine(ac.Cookie.Name, rs))
	}
	for _, line := range st.set {
		var rs []string
		for _, bc := range respInfo.BlockedCookies {
			if bc.CookieLine == line {
				for _, r := range bc.BlockedReasons {
					rs = append(rs, string(r))
				}
			}
		}
		nm := lineName(line)
		if raw, err := ParseSetCookie(line); err == nil {
			nm = lineName(raw.Name)
		}
		stored := slices.ContainsFunc(jar.Cookies, func(c *network.Cookie) bool { return lineName(c.Name) == nm })
		out = append(out, setLine(line, stored && len(rs) == 0, !stored, rs))
	}
	for _, bc := range respInfo.BlockedCookies {
		if !slices.Contains(st.set, bc.CookieLine) {
			t.Logf("step %d: Chromium blocked a line it reported differently: %q %v", i, bc.CookieLine, bc.BlockedReasons)
		}
	}
	sort.Strings(out)
	var entries []string
	for _, c := range jar.Cookies {
		entries = append(entries, jarEntry(c.Name, c.Domain, c.Path, c.Secure, string(c.SameSite)))
	}
	return append(out, h.normalize(jarLine(entries)))
}
