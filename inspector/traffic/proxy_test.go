package traffic

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// startProxy serves a proxy in front of upstreams and returns its URL; exchanges
// reach the returned channel (buffered, so the sink never blocks).
func startProxy(t *testing.T, cfg ProxyConfig, upstreams ...*httptest.Server) (*Proxy, string, <-chan *model.Exchange) {
	t.Helper()
	for _, u := range upstreams {
		cfg.Upstreams = append(cfg.Upstreams, mustURL(t, u.URL))
	}
	ch := make(chan *model.Exchange, 1024)
	sink := cfg.Sink
	cfg.Sink = func(x *model.Exchange) {
		if sink != nil {
			sink(x)
		}
		select {
		case ch <- x:
		default:
		}
	}
	p, err := NewProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return p, "http://" + ln.Addr().String(), ch
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

func get(t *testing.T, c *http.Client, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func next(t *testing.T, ch <-chan *model.Exchange) *model.Exchange {
	t.Helper()
	select {
	case x := <-ch:
		return x
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("no exchange recorded")
		return nil
	}
}

func TestProxyForwardedHeaders(t *testing.T) {
	type seen struct {
		host string
		hdr  http.Header
	}
	got := make(chan seen, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Host, r.Header.Clone()}
	}))
	defer up.Close()
	upHost := mustURL(t, up.URL).Host
	cases := []struct {
		name      string
		cfg       ProxyConfig
		in        map[string]string
		wantHost  string
		wantXFF   string
		wantProto string
		wantXFH   string
	}{
		{name: "first hop", in: map[string]string{"X-Custom": "a, b", "Host": "shop.test:7080"},
			wantHost: "shop.test:7080", wantXFF: "127.0.0.1", wantProto: "http", wantXFH: "shop.test:7080"},
		{name: "appends to the chain", in: map[string]string{"X-Forwarded-For": "198.51.100.7, 10.0.0.1", "X-Forwarded-Proto": "https", "Host": "shop.test"},
			wantHost: "shop.test", wantXFF: "198.51.100.7, 10.0.0.1, 127.0.0.1", wantProto: "http", wantXFH: "shop.test"},
		{name: "trusts the TLS terminator", cfg: ProxyConfig{TrustForwarded: true}, in: map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "www.shop.test", "Host": "shop.test"},
			wantHost: "shop.test", wantXFF: "198.51.100.7, 127.0.0.1", wantProto: "https", wantXFH: "www.shop.test"},
		{name: "rewrites Host when asked", cfg: ProxyConfig{RewriteHost: true}, in: map[string]string{"Host": "shop.test"},
			wantHost: upHost, wantXFF: "127.0.0.1", wantProto: "http", wantXFH: "shop.test"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, pu, _ := startProxy(t, tc.cfg, up)
			get(t, client(), pu+"/x", tc.in)
			s := <-got
			if s.host != tc.wantHost {
				t.Errorf("Host %q, want %q", s.host, tc.wantHost)
			}
			if v := s.hdr.Get("X-Forwarded-For"); v != tc.wantXFF {
				t.Errorf("X-Forwarded-For %q, want %q", v, tc.wantXFF)
			}
			if v := s.hdr.Get("X-Forwarded-Proto"); v != tc.wantProto {
				t.Errorf("X-Forwarded-Proto %q, want %q", v, tc.wantProto)
			}
			if v := s.hdr.Get("X-Forwarded-Host"); v != tc.wantXFH {
				t.Errorf("X-Forwarded-Host %q, want %q", v, tc.wantXFH)
			}
			if v, ok := tc.in["X-Custom"]; ok && s.hdr.Get("X-Custom") != v {
				t.Errorf("X-Custom %q, want %q", s.hdr.Get("X-Custom"), v)
			}
		})
	}
}

func TestProxyDistribution(t *testing.T) {
	var seenSticky atomic.Bool
	upstream := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := r.Cookie(StickyCookie); err == nil {
				seenSticky.Store(true)
			}
			io.WriteString(w, name)
		}))
	}
	a, b := upstream("a"), upstream("b")
	defer a.Close()
	defer b.Close()
	cases := []struct {
		name    string
		sticky  bool
		clients int
		want    func(t *testing.T, perClient [][]string)
	}{
		{name: "round-robin", clients: 1, want: func(t *testing.T, pc [][]string) {
			if got := strings.Join(pc[0], ""); got != "abababab" {
				t.Errorf("served by %s, want alternating", got)
			}
		}},
		{name: "sticky", sticky: true, clients: 2, want: func(t *testing.T, pc [][]string) {
			for i, seq := range pc {
				if got := strings.Join(seq, ""); got != strings.Repeat(seq[0], len(seq)) {
					t.Errorf("client %d served by %s, want one upstream", i, got)
				}
			}
			if pc[0][0] == pc[1][0] {
				t.Errorf("both clients pinned to %s; new clients should be spread", pc[0][0])
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seenSticky.Store(false)
			_, pu, ch := startProxy(t, ProxyConfig{Sticky: tc.sticky}, a, b)
			perClient := make([][]string, tc.clients)
			for i := range perClient {
				jar, _ := cookiejar.New(nil)
				c := client()
				c.Jar = jar
				for range 8 {
					_, body := get(t, c, pu+"/", map[string]string{"Cookie": "app=1"})
					perClient[i] = append(perClient[i], body)
				}
			}
			tc.want(t, perClient)
			if seenSticky.Load() {
				t.Error("the sticky cookie reached the application")
			}
			for range 8 * tc.clients {
				x := next(t, ch)
				for _, c := range x.CookiesSent {
					if c.Name == StickyCookie {
						t.Errorf("exchange lists the proxy's cookie: %+v", x.CookiesSent)
					}
				}
				for _, c := range x.SetCookies {
					if c.Name == StickyCookie {
						t.Errorf("exchange lists the proxy's Set-Cookie")
					}
				}
			}
		})
	}
}

func TestProxySlowUpstreamDoesNotBlockOthers(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(arrived)
			<-release
		}
		io.WriteString(w, r.URL.Path)
	}))
	defer up.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	_, pu, _ := startProxy(t, ProxyConfig{}, up)

	slowDone := make(chan error, 1)
	go func() {
		res, err := client().Get(pu + "/slow")
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		slowDone <- err
	}()
	<-arrived

	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			res, err := client().Get(fmt.Sprintf("%s/fast/%d", pu, i))
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(b) != fmt.Sprintf("/fast/%d", i) {
				errs <- fmt.Errorf("got %q", b)
			}
		})
	}
	wg.Wait() // every fast client completed while the slow one is still held
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case <-slowDone:
		t.Fatal("the slow request finished before it was released")
	default:
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
}

func TestProxyStreamsBody(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	}))
	defer up.Close()
	_, pu, ch := startProxy(t, ProxyConfig{}, up)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", pu+"/stream", nil)
	res, err := client().Do(req)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n') // arrives while the upstream still holds the rest
	if err != nil || line != "first\n" {
		close(release)
		t.Fatalf("first chunk %q, %v", line, err)
	}
	releasedAt := time.Now()
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	x := next(t, ch)
	if !x.HeadersSent.Before(releasedAt) || !x.End.After(releasedAt) || x.Start.After(x.HeadersSent) {
		t.Errorf("start %v headers %v end %v, released %v", x.Start, x.HeadersSent, x.End, releasedAt)
	}
}

func TestProxyChunked(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			fmt.Fprintf(w, "chunk %d;", i)
			w.(http.Flusher).Flush()
		}
	}))
	defer up.Close()
	_, pu, ch := startProxy(t, ProxyConfig{}, up)
	res, body := get(t, client(), pu+"/", nil)
	if body != "chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;" {
		t.Errorf("body %q", body)
	}
	if len(res.TransferEncoding) != 1 || res.TransferEncoding[0] != "chunked" || res.ContentLength != -1 {
		t.Errorf("transfer encoding %v, length %d", res.TransferEncoding, res.ContentLength)
	}
	if x := next(t, ch); x.Status != 200 {
		t.Errorf("status %d", x.Status)
	}
}

func TestProxyWebsocket(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}))
	defer up.Close()
	_, pu, ch := startProxy(t, ProxyConfig{}, up)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(pu, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Cookie": {"PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	for _, msg := range []string{"hello", "session", strings.Repeat("x", 70000)} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil || string(got) != msg {
			t.Fatalf("echo %.20q, %v", got, err)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	x := next(t, ch) // recorded once the tunnel closed
	if x.Status != http.StatusSwitchingProtocols || !x.Upgraded || x.SessionRef != model.Ref("q3hgl8v5c0m2k7ut3ohs1f2km9") {
		t.Errorf("exchange status %d upgraded %v ref %q", x.Status, x.Upgraded, x.SessionRef)
	}
	if x.HeadersSent.IsZero() || x.End.Before(x.HeadersSent) {
		t.Errorf("headers %v end %v", x.HeadersSent, x.End)
	}
}

func TestProxyCookieCapture(t *testing.T) {
	const oldID, newID = "q3hgl8v5c0m2k7ut3ohs1f2km9", "7sd9f8g7h6j5k4l3m2n1b0v9c8"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "PHPSESSID="+newID+"; Domain=shop.test; Path=/app; Secure; HttpOnly; SameSite=None; Max-Age=3600")
		w.Header().Add("Set-Cookie", "theme=light; Expires=Wed, 21 Oct 2026 07:28:00 GMT")
		w.Header().Add("Set-Cookie", "remember=; Max-Age=0")
		w.Header().Add("Set-Cookie", "MYSESS=abc123xyz789")
		w.Header().Add("Set-Cookie", "bad cookie")
		w.Header().Set("Location", "/next?PHPSESSID="+newID)
		w.WriteHeader(http.StatusFound)
	}))
	defer up.Close()
	custom := func(name, value string) (string, bool) {
		if name == "MYSESS" {
			return model.Ref(value), true
		}
		return builtinRef(name, value)
	}
	var seq atomic.Uint64
	seq.Store(100)
	_, pu, ch := startProxy(t, ProxyConfig{Mapping: custom, Seq: func() uint64 { return seq.Add(1) }}, up)
	res, _ := get(t, client(), pu+"/login?PHPSESSID="+oldID+"&next=%2F", map[string]string{
		"Cookie":     "PHPSESSID=" + oldID + "; theme=dark; MYSESS=abc123xyz789",
		"User-Agent": "test-agent/1.0",
		"Host":       "shop.test",
	})
	if got := res.Header.Values("Set-Cookie"); len(got) != 5 {
		t.Errorf("client got %d Set-Cookie lines, want all 5 unchanged: %q", len(got), got)
	}
	x := next(t, ch)
	if x.Seq != 101 || x.Status != 302 || x.Method != "GET" || x.Source != model.SourceProxy {
		t.Errorf("seq %d status %d method %s source %s", x.Seq, x.Status, x.Method, x.Source)
	}
	if want := "http://shop.test/login?PHPSESSID=q3hg…m9&next=%2F"; x.URL != want {
		t.Errorf("url %q, want %q", x.URL, want)
	}
	if want := "/next?PHPSESSID=7sd9…c8"; x.Location != want {
		t.Errorf("location %q, want %q", x.Location, want)
	}
	if !strings.HasPrefix(x.Client.Addr, "127.0.0.1:") || x.Client.UA != "test-agent/1.0" || x.Upstream != mustURL(t, up.URL).Host {
		t.Errorf("client %+v upstream %q", x.Client, x.Upstream)
	}
	wantSent := []model.SentCookie{{Name: "PHPSESSID", SessionRef: model.Ref(oldID)}, {Name: "theme"}, {Name: "MYSESS", SessionRef: model.Ref("abc123xyz789")}}
	if len(x.CookiesSent) != len(wantSent) {
		t.Fatalf("cookies sent %+v", x.CookiesSent)
	}
	for i, w := range wantSent {
		if got := x.CookiesSent[i]; got.Name != w.Name || got.SessionRef != w.SessionRef {
			t.Errorf("cookie %d: %+v, want %+v", i, got, w)
		}
	}
	if x.SessionRef != model.Ref(oldID) {
		t.Errorf("session ref %q", x.SessionRef)
	}
	if len(x.SetCookies) != 5 {
		t.Fatalf("set cookies %+v", x.SetCookies)
	}
	sess, theme, remember, mine, bad := x.SetCookies[0], x.SetCookies[1], x.SetCookies[2], x.SetCookies[3], x.SetCookies[4]
	if sess.Name != "PHPSESSID" || sess.Domain != "shop.test" || sess.Path != "/app" || !sess.Secure || !sess.HTTPOnly ||
		sess.SameSite != "None" || sess.MaxAge == nil || *sess.MaxAge != 3600 || sess.SessionRef != model.Ref(newID) {
		t.Errorf("session cookie %+v", sess)
	}
	if theme.Expires == nil || !theme.Expires.Equal(time.Date(2026, 10, 21, 7, 28, 0, 0, time.UTC)) || theme.SessionRef != "" || theme.SameSite != "" {
		t.Errorf("theme cookie %+v", theme)
	}
	if remember.MaxAge == nil || *remember.MaxAge != 0 {
		t.Errorf("deletion cookie %+v", remember)
	}
	if mine.SessionRef != model.Ref("abc123xyz789") {
		t.Errorf("custom mapping not used: %+v", mine)
	}
	if bad.ParseError == "" || bad.Name != "bad cookie" {
		t.Errorf("unparseable line %+v", bad)
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{oldID, newID, "dark", "light", "abc123xyz789"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("JSON carries %q: %s", secret, b)
		}
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for _, k := range []string{"type", "seq", "id", "start", "headers_sent", "end", "method", "url", "status", "location", "client", "upstream", "cookies_sent", "set_cookies", "session_ref"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
}

// builtinRef is the builtin table's mapping.
func builtinRef(name, value string) (string, bool) { return defaultMapping(nil)(name, value) }

func TestProxyRingBound(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	p, pu, _ := startProxy(t, ProxyConfig{RingSize: 5}, up)
	c := client()
	for i := range 12 {
		get(t, c, fmt.Sprintf("%s/%d", pu, i), nil)
	}
	if st := p.Stats(); st.Total != 12 || st.Kept != 5 {
		t.Errorf("stats %+v", st)
	}
	all := p.Recent(0)
	if len(all) != 5 {
		t.Fatalf("kept %d", len(all))
	}
	for i, x := range all {
		if x.Seq != uint64(8+i) || !strings.HasSuffix(x.URL, fmt.Sprintf("/%d", 7+i)) {
			t.Errorf("kept[%d] = seq %d %s", i, x.Seq, x.URL)
		}
	}
	if r := p.Recent(2); len(r) != 2 || r[0].Seq != 11 || r[1].Seq != 12 {
		t.Errorf("Recent(2) = %v", r)
	}
	if s := p.Since(10); len(s) != 2 || s[0].Seq != 11 {
		t.Errorf("Since(10) = %v", s)
	}
	if s := p.Since(12); len(s) != 0 {
		t.Errorf("Since(12) = %v", s)
	}
	// Readers get copies: changing one does not change the ring.
	all[0].SetSeq(999)
	if p.Recent(0)[0].Seq == 999 {
		t.Error("Recent returned the ring's own exchange")
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	up.Close() // nothing listens there now
	_, pu, ch := startProxy(t, ProxyConfig{Logger: discardLogger()}, up)
	res, _ := get(t, client(), pu+"/", nil)
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d", res.StatusCode)
	}
	if x := next(t, ch); x.Status != http.StatusBadGateway || x.Error == "" {
		t.Errorf("exchange status %d error %q", x.Status, x.Error)
	}
}

func TestNewProxyValidates(t *testing.T) {
	for name, ups := range map[string][]*url.URL{
		"none":        nil,
		"relative":    {{Path: "/app"}},
		"bad scheme":  {{Scheme: "ftp", Host: "a"}},
		"nil element": {nil},
	} {
		if _, err := NewProxy(ProxyConfig{Upstreams: ups}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{{Scheme: "http", Host: "127.0.0.1:1"}}})
	if err != nil || p.Listen() != DefaultListen || p.ring == nil || len(p.ring.buf) != DefaultRingSize {
		t.Errorf("defaults not applied: %v", err)
	}
}

func TestProxyServeStops(t *testing.T) {
	p, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{{Scheme: "http", Host: "127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	ln2.Close()
	if err := p.Serve(context.Background(), ln2); err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed listener: %v", err)
	}
}

func TestMaskURL(t *testing.T) {
	m := func(name, value string) (string, bool) { return "ref", name == "token" }
	cases := []struct{ in, want string }{
		{"https://a.test/x", "https://a.test/x"},
		{"https://a.test/x?page=2&sort=asc", "https://a.test/x?page=2&sort=asc"},
		{"https://a.test/x?PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9&page=2", "https://a.test/x?PHPSESSID=q3hg…m9&page=2"},
		{"https://a.test/x?a=1&sessionid=abcdefghijkl#frag", "https://a.test/x?a=1&sessionid=abcd…kl#frag"},
		{"/cart;jsessionid=0123456789ABCDEF/items?x=1", "/cart;jsessionid=0123…EF/items?x=1"},
		{"/cart;JSESSIONID=0123456789ABCDEF", "/cart;JSESSIONID=0123…EF"},
		{"/x?connect.sid=s%3Aabcdefghij.sig", "/x?connect.sid=s:ab…ig"},
		{"/x?token=abcdefghijkl", "/x?token=abcd…kl"},
		{"/x?PHPSESSID=short", "/x?PHPSESSID=…"},
		{"/x?PHPSESSID=&a=b", "/x?PHPSESSID=&a=b"},
		{"/x?%50HPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9", "/x?%50HPSESSID=q3hg…m9"},
		{"/x;v=1?y", "/x;v=1?y"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := MaskURL(tc.in, m, model.Redaction{}); got != tc.want {
				t.Errorf("MaskURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestProxyConcurrentCapture runs many clients at once through the proxy, with a slow
// upstream on some requests and bodies larger than the copy buffer on others, under
// -race: every response arrives whole and every exchange records its own request's
// cookies, status and Set-Cookie, never another request's.
func TestProxyConcurrentCapture(t *testing.T) {
	const clients, perClient = 24, 15
	id := func(c int) string { return fmt.Sprintf("sess%022d", c) }
	body := func(c, i int) string {
		if i%3 == 0 { // past the 32 KB buffers ReverseProxy copies through, which are reused
			return strings.Repeat(fmt.Sprintf("<%d.%d>", c, i), 10000)
		}
		return fmt.Sprintf("page %d.%d", c, i)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var c, i int
		if _, err := fmt.Sscanf(r.URL.Path, "/c/%d/%d", &c, &i); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if i%5 == 0 {
			time.Sleep(5 * time.Millisecond) // a slow page; others overtake it
		}
		ck, err := r.Cookie("PHPSESSID")
		if err != nil || ck.Value != id(c) {
			http.Error(w, "wrong session", http.StatusBadRequest)
			return
		}
		w.Header().Set("Set-Cookie", "PHPSESSID="+id(c)+"; Path=/; HttpOnly")
		w.WriteHeader(200 + i%3)
		io.WriteString(w, body(c, i))
	}))
	defer up.Close()
	var mu sync.Mutex
	got := map[string]*model.Exchange{}
	_, pu, _ := startProxy(t, ProxyConfig{Sink: func(x *model.Exchange) {
		mu.Lock()
		got[x.URL] = x
		mu.Unlock()
	}}, up)

	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for c := range clients {
		wg.Go(func() {
			cl := client()
			defer cl.CloseIdleConnections()
			for i := range perClient {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/c/%d/%d", pu, c, i), nil)
				req.Header.Set("Cookie", "PHPSESSID="+id(c)+"; theme=dark")
				res, err := cl.Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200+i%3 || string(b) != body(c, i) {
					errs <- fmt.Errorf("client %d request %d: status %d, %d bytes, %v", c, i, res.StatusCode, len(b), err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The sink runs after the response is streamed, so the last ones may still be on
	// their way; Serve's shutdown in Cleanup waits for them, a poll here does too.
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a timing assertion
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == clients*perClient || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != clients*perClient {
		t.Fatalf("%d exchanges recorded, want %d", len(got), clients*perClient)
	}
	ids := map[string]bool{}
	for c := range clients {
		for i := range perClient {
			x := got[fmt.Sprintf("%s/c/%d/%d", pu, c, i)]
			if x == nil {
				t.Errorf("client %d request %d not recorded", c, i)
				continue
			}
			ref := model.Ref(id(c))
			if x.Status != 200+i%3 || x.SessionRef != ref || len(x.SetCookies) != 1 || x.SetCookies[0].SessionRef != ref ||
				x.SetCookies[0].Value != id(c) || x.End.Before(x.HeadersSent) || x.HeadersSent.Before(x.Start) {
				t.Errorf("client %d request %d recorded as %+v", c, i, x)
			}
			if ids[x.ID] {
				t.Errorf("exchange id %s given twice", x.ID)
			}
			ids[x.ID] = true
		}
	}
}

// TestProxyKeepsRawQuery: a query ReverseProxy finds unparsable (a raw ";") still
// reaches the upstream byte for byte, as does the upstream URL's own query.
func TestProxyKeepsRawQuery(t *testing.T) {
	got := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.RawQuery
	}))
	defer up.Close()
	for _, tc := range []struct{ upstreamQuery, client, want string }{
		{"", "a=1;b=2&c=%3B", "a=1;b=2&c=%3B"},
		{"", "", ""},
		{"tenant=7", "a=1;b=2", "tenant=7&a=1;b=2"},
		{"tenant=7", "", "tenant=7"},
	} {
		u := mustURL(t, up.URL)
		u.RawQuery = tc.upstreamQuery
		p, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{u}, Sink: func(*model.Exchange) {}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(p)
		target := srv.URL + "/page"
		if tc.client != "" {
			target += "?" + tc.client
		}
		res, err := http.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if q := <-got; q != tc.want {
			t.Errorf("upstream %q, client %q: upstream saw %q, want %q", tc.upstreamQuery, tc.client, q, tc.want)
		}
		srv.Close()
	}
}
