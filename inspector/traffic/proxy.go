package traffic

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// Proxy defaults.
const (
	DefaultListen   = "127.0.0.1:7080"
	DefaultRingSize = 10000
	// StickyCookie is the cookie the proxy sets to pin a client to one upstream when
	// ProxyConfig.Sticky is on. Like every cookie IsOwnCookie names, it is stripped
	// from requests before they go upstream.
	StickyCookie = "sessionscope_upstream"
	// ProxyHeaderTimeout is how long a client may take to send a request's headers.
	ProxyHeaderTimeout = 30 * time.Second
	// ProxyIdleTimeout is how long a keep-alive connection may wait for its next
	// request. There is no read or write timeout: bodies stream as long as they last,
	// as the app and the browser would have them without the proxy.
	ProxyIdleTimeout = 120 * time.Second
)

// ProxyConfig configures a capturing reverse proxy.
type ProxyConfig struct {
	// Listen is the address ListenAndServe binds. Default DefaultListen.
	Listen string
	// Upstreams are the application servers; requests go round-robin across them.
	Upstreams []*url.URL
	// UpstreamNames name Upstreams, index for index (--proxy-to NAME=URL): the flow's
	// lanes, the status and the 502 page use them. Default, and for a name left
	// empty: the upstream's host:port.
	UpstreamNames []string
	// Sticky pins each client to one upstream with StickyCookie, as a load balancer's
	// session affinity would. Default off: round-robin, which is what exposes servers
	// that do not share a session store.
	Sticky bool
	// RingSize is how many exchanges are kept for Recent and Since. Default
	// DefaultRingSize.
	RingSize int
	// Mapping fills session refs from cookies. Default framework.RefMapper(nil).
	Mapping func(name, value string) (ref string, ok bool)
	// Redact names the URL parameters whose values are hidden. Default the built-in
	// list (model.SensitiveNames).
	Redact model.Redaction
	// Sink receives every exchange when the response has been streamed. It is called
	// on the request's goroutine and must not block. The exchange is shared with the
	// proxy's ring (Recent and Since hand out copies of it): the sink reads it and may
	// keep it, but must not modify it; a sink that annotates works on a copy.
	Sink func(*model.Exchange)
	// Seq stamps exchanges with the process-wide sequence number, so Since can answer
	// in it. Default: a counter of the proxy's own, starting at 1.
	Seq func() uint64
	// RewriteHost sends the upstream's host as Host. Default off: the client's Host
	// goes upstream, so the application builds redirects and cookie domains for the
	// address the browser uses.
	RewriteHost bool
	// TrustForwarded keeps X-Forwarded-Proto and X-Forwarded-Host from the client (a
	// TLS terminator in front of sessionscope) instead of setting them for this hop.
	TrustForwarded bool
	// Transport is the upstream transport. Default: a clone of http.DefaultTransport
	// that ignores HTTP_PROXY, since upstreams are usually local.
	Transport http.RoundTripper
	// Logger logs the HTTP servers' own errors, at debug level. Default slog.Default().
	Logger *slog.Logger
	// Warn receives one line when an upstream stops answering (which, how, what to do)
	// and one when it answers again, not one per failed request. It is called on the
	// request's goroutine. Default: logged as a warning through Logger.
	Warn func(line string)
}

// Proxy is a reverse proxy that records one model.Exchange per request. Bodies are
// streamed, never stored; the exchanges kept are bounded by RingSize.
type Proxy struct {
	cfg     ProxyConfig
	mapping Mapping
	rp      *httputil.ReverseProxy
	ring    *ring
	names   []string      // cfg.UpstreamNames completed with defaults
	down    []atomic.Bool // per upstream: its last request failed and Warn said so
	rr      atomic.Uint64 // round-robin position
	n       atomic.Uint64 // exchange counter, for ids
	seq     atomic.Uint64 // own sequence when cfg.Seq is nil
	run     string        // distinguishes this proxy's exchange ids from another run's
	// headerTimeout and idleTimeout are ProxyHeaderTimeout and ProxyIdleTimeout;
	// tests shorten them.
	headerTimeout, idleTimeout time.Duration
}

// NewProxy validates cfg, applies defaults and builds the proxy.
func NewProxy(cfg ProxyConfig) (*Proxy, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("proxy: no upstream: give the application's address, e.g. --upstream http://127.0.0.1:8080")
	}
	for i, u := range cfg.Upstreams {
		if u == nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("proxy: upstream %d %v: want an absolute http(s) URL such as http://127.0.0.1:8080", i+1, u)
		}
	}
	if len(cfg.UpstreamNames) > len(cfg.Upstreams) {
		return nil, fmt.Errorf("proxy: %d upstream names for %d upstreams", len(cfg.UpstreamNames), len(cfg.Upstreams))
	}
	names := make([]string, len(cfg.Upstreams))
	for i, u := range cfg.Upstreams {
		names[i] = u.Host
		if i < len(cfg.UpstreamNames) && cfg.UpstreamNames[i] != "" {
			names[i] = cfg.UpstreamNames[i]
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Warn == nil {
		logger := cfg.Logger
		cfg.Warn = func(line string) { logger.Warn(line) }
	}
	if cfg.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		t.MaxIdleConnsPerHost = 64
		cfg.Transport = t
	}
	var rid [4]byte
	_, _ = rand.Read(rid[:])
	p := &Proxy{cfg: cfg, mapping: defaultMapping(cfg.Mapping), ring: newRing(cfg.RingSize), run: hex.EncodeToString(rid[:]),
		names: names, down: make([]atomic.Bool, len(cfg.Upstreams)),
		headerTimeout: ProxyHeaderTimeout, idleTimeout: ProxyIdleTimeout}
	p.rp = &httputil.ReverseProxy{
		Rewrite:   p.rewrite,
		Transport: cfg.Transport,
		// FlushInterval 0: ReverseProxy still flushes every write of a response without
		// a Content-Length (chunked, streamed) and of text/event-stream, so streams
		// stream; a response of known length goes out as the server's buffer fills.
		// (-1 flushed every write of every response and armed a timer per request.)
		BufferPool:     &copyBuffers{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// copyBuffers recycles the 32 KB buffers ReverseProxy copies bodies through; without
// a pool it allocates one per request.
type copyBuffers struct{ pool sync.Pool }

func (b *copyBuffers) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *copyBuffers) Put(buf []byte) { b.pool.Put(&buf) }

// capture is the per-request state shared by the proxy's hooks. The hooks all run on
// the request's goroutine, so it needs no lock.
type capture struct {
	upstream    *url.URL
	index       int // of upstream in the proxy's upstreams
	setSticky   int // upstream index to pin in a cookie, -1: none
	status      int // from the upstream's response
	location    string
	setCookies  []string
	wroteStatus int
	headersSent time.Time
	upgraded    bool
	err         string
	// injectable marks a request whose URL or Referer carries a CR/LF; only then is
	// the response's header kept (respHeader) for the response-splitting check.
	injectable bool
	respHeader http.Header
	body       bodyScan
}

type captureKey struct{}

// ServeHTTP proxies one request and records it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &capture{setSticky: -1, injectable: requestMayInject(r)}
	c.index, c.setSticky = p.pick(r)
	c.upstream = p.cfg.Upstreams[c.index]
	// Go's HTTP/1 server closes the request body once the response's headers are
	// written, which made the transport tear down the upstream connection mid-response
	// (golang/go#40747): a POST answered while the app still read its body reached the
	// browser cut short (ERR_INCOMPLETE_CHUNKED_ENCODING, 13 of 400 logins).
	_ = http.NewResponseController(w).EnableFullDuplex()
	rec := &recorder{ResponseWriter: w, c: c}
	// httputil.ReverseProxy aborts with panic(http.ErrAbortHandler) when the client
	// goes away mid-body; the exchange still happened (the app served it, the store may
	// have changed), so record it on the way out and let the panic continue.
	defer func() {
		if v := recover(); v != nil {
			if c.err == "" {
				c.err = "the client closed the connection before the response was complete"
			}
			p.record(r, c, start, time.Now())
			panic(v)
		}
	}()
	p.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), captureKey{}, c)))
	// Recorded before the handler returns, so before the end of the response reaches
	// the client: whoever saw a response (a script, a test) finds its exchange recorded.
	// Flushing first would save the client the recording's few µs, but would also turn
	// a small body without Content-Length into a chunked one: not what the app sent.
	p.record(r, c, start, time.Now())
}

// pick chooses the upstream's index: the pinned one for a sticky client, else the
// next in turn. The second result is the index to pin in a cookie, -1: none.
func (p *Proxy) pick(r *http.Request) (int, int) {
	ups := p.cfg.Upstreams
	if p.cfg.Sticky {
		if ck, err := r.Cookie(StickyCookie); err == nil {
			if i, err := strconv.Atoi(ck.Value); err == nil && i >= 0 && i < len(ups) {
				return i, -1
			}
		}
	}
	i := int((p.rr.Add(1) - 1) % uint64(len(ups)))
	if p.cfg.Sticky {
		return i, i
	}
	return i, -1
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	c := pr.In.Context().Value(captureKey{}).(*capture)
	pr.SetURL(c.upstream)
	// ReverseProxy drops query parameters it cannot parse (a raw ";", as old apps
	// write "?a=1;b=2") from Out before Rewrite; headers and bodies pass unchanged,
	// and so must the query.
	pr.Out.URL.RawQuery = joinQuery(c.upstream.RawQuery, pr.In.URL.RawQuery)
	if !p.cfg.RewriteHost {
		pr.Out.Host = pr.In.Host
	}
	// Rewrite starts from a request without forwarding headers; append to the
	// client's X-Forwarded-For chain as a Director-style proxy would.
	pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	if v := pr.In.Header["Forwarded"]; v != nil {
		pr.Out.Header["Forwarded"] = v
	}
	pr.SetXForwarded()
	if p.cfg.TrustForwarded {
		for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
			if v := pr.In.Header.Get(h); v != "" {
				pr.Out.Header.Set(h, v)
			}
		}
	}
	// The dashboard's login cookie reaches the proxy too (cookies ignore the port),
	// and the sticky cookie is the proxy's own: neither is the app's business.
	stripOwnCookies(pr.Out.Header)
}

// joinQuery appends the client's query to the upstream URL's own, as SetURL does.
func joinQuery(upstream, client string) string {
	if upstream == "" || client == "" {
		return upstream + client
	}
	return upstream + "&" + client
}

func (p *Proxy) modifyResponse(res *http.Response) error {
	c, ok := res.Request.Context().Value(captureKey{}).(*capture)
	if !ok {
		return nil
	}
	c.status = res.StatusCode
	if p.down[c.index].CompareAndSwap(true, false) {
		p.cfg.Warn(fmt.Sprintf("proxy: upstream %s (%s) answers again", p.names[c.index], c.upstream.Redacted()))
	}
	c.location = res.Header.Get("Location")
	c.setCookies = append([]string(nil), res.Header.Values("Set-Cookie")...)
	if c.injectable {
		c.respHeader = res.Header.Clone()
	}
	if c.setSticky >= 0 {
		res.Header.Add("Set-Cookie", (&http.Cookie{Name: StickyCookie, Value: strconv.Itoa(c.setSticky),
			Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}).String())
	}
	return nil
}

// errorHandler answers a request the upstream gave no response to: a 502 page that
// names the upstream and how it failed, the reason on the exchange, and a warning the
// first time in a row that this upstream fails.
func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c, ok := r.Context().Value(captureKey{}).(*capture)
	if !ok {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	if r.Context().Err() != nil {
		c.err = err.Error()
		return // the client went away; nobody to answer
	}
	b := badGateway{Name: p.names[c.index], URL: c.upstream.Redacted(), Method: r.Method,
		How: upstreamFailure(err, c.upstream.Host)}
	c.err = fmt.Sprintf("upstream %s (%s) %s: %v", b.Name, b.URL, b.How, err)
	if !p.down[c.index].Swap(true) {
		p.cfg.Warn(fmt.Sprintf("proxy: upstream %s (%s) %s; %s %s answered 502; start the app, or check --proxy-to",
			b.Name, b.URL, b.How, r.Method, MaskURL(r.URL.RequestURI(), p.mapping, p.cfg.Redact)))
	}
	b.Target = MaskURL(r.URL.RequestURI(), p.mapping, p.cfg.Redact)
	b.write(w, r)
}

// record builds the exchange, keeps it and hands it to the sink.
func (p *Proxy) record(r *http.Request, c *capture, start, end time.Time) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rawURL := scheme + "://" + r.Host + r.URL.RequestURI()
	x := &model.Exchange{
		Type:           model.TypeExchange,
		ID:             "p" + p.run + "-" + strconv.FormatUint(p.n.Add(1), 10),
		Start:          start,
		HeadersSent:    c.headersSent,
		End:            end,
		Method:         r.Method,
		URL:            MaskURL(rawURL, p.mapping, p.cfg.Redact),
		RawURL:         rawURL,
		Status:         c.status,
		Client:         model.Client{Addr: r.RemoteAddr, UA: r.UserAgent()},
		Upstream:       c.upstream.Host,
		UpstreamName:   p.names[c.index],
		Source:         model.SourceProxy,
		Upgraded:       c.upgraded,
		Error:          c.err,
		LoginForm:      c.body.loginForm,
		ClientRedirect: c.body.clientRedirect,
	}
	if x.UpstreamName == x.Upstream {
		x.UpstreamName = ""
	}
	if x.Status == 0 {
		x.Status = c.wroteStatus
	}
	if x.HeadersSent.IsZero() {
		x.HeadersSent = end
	}
	if c.location != "" {
		x.Location, x.RawLocation = MaskURL(c.location, p.mapping, p.cfg.Redact), c.location
	}
	// sessionscope's own cookies (the dashboard's login, the sticky pin) are not the
	// app's: never recorded, so never in the live stream or a HAR.
	x.CookiesSent, x.SessionRef = sentCookies(withoutOwnCookies(r.Header.Values("Cookie")), p.mapping, "")
	x.RawReferer = r.Header.Get("Referer")
	if c.injectable && c.respHeader != nil {
		x.InjectedHeaders = injectedHeaders(crlfPayloads(r.URL.EscapedPath()+"?"+r.URL.RawQuery, x.RawReferer),
			responseHeaderLines(c.respHeader), p.mapping, p.cfg.Redact)
	}
	for _, line := range c.setCookies {
		x.SetCookies = append(x.SetCookies, parseSetCookie(line, p.mapping))
	}
	if p.cfg.Seq != nil {
		x.Seq = p.cfg.Seq()
	} else {
		x.Seq = p.seq.Add(1)
	}
	p.ring.add(x)
	if p.cfg.Sink != nil {
		// Not a copy: the sink reads it (the live rules keep their own copy), and a
		// second copy of every exchange was a measurable share of the proxy's CPU.
		p.cfg.Sink(x)
	}
}

// Recent returns up to n of the latest exchanges, oldest first (n <= 0: all kept).
// Each is the caller's own copy.
func (p *Proxy) Recent(n int) []*model.Exchange { return p.ring.collect(n, nil) }

// Since returns the kept exchanges with a sequence number above seq, oldest first.
// Exchanges that fell out of the ring are not returned: compare with Stats to see a gap.
func (p *Proxy) Since(seq uint64) []*model.Exchange {
	return p.ring.collect(0, func(x *model.Exchange) bool { return x.Seq > seq })
}

// ProxyStats counts the proxy's exchanges.
type ProxyStats struct {
	Total uint64 // exchanges recorded since start
	Kept  int    // exchanges in the ring now
}

// Stats returns the exchange counts.
func (p *Proxy) Stats() ProxyStats {
	kept, total := p.ring.stats()
	return ProxyStats{Total: total, Kept: kept}
}

// Listen returns the configured listen address.
func (p *Proxy) Listen() string { return p.cfg.Listen }

// Info describes the proxy for the status: the URL a browser opens, given the address
// the proxy is bound to, and its named upstreams.
func (p *Proxy) Info(bound net.Addr) model.ProxyInfo {
	info := model.ProxyInfo{Listen: ListenURL(bound.String())}
	for i, u := range p.cfg.Upstreams {
		info.Upstreams = append(info.Upstreams, model.ProxyUpstream{Name: p.names[i], URL: u.Redacted()})
	}
	return info
}

// ListenURL is the URL a browser opens for a server bound to addr (host:port): a
// wildcard bind (0.0.0.0, [::] or no host) is reached on the loopback address.
func ListenURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// ListenAndServe listens on cfg.Listen and serves until ctx is done.
func (p *Proxy) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		return fmt.Errorf("proxy: listen on %s: %w (choose another address with --proxy-listen)", p.cfg.Listen, err)
	}
	return p.Serve(ctx, ln)
}

// Serve proxies connections from ln until ctx is done, then shuts down: in-flight
// requests get a few seconds to finish, after which they and open websocket tunnels
// are cut. It returns nil after a shutdown by ctx.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: p.headerTimeout,
		IdleTimeout:       p.idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(p.cfg.Logger.Handler(), slog.LevelDebug),
	}
	fresh := TrackFreshConns(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		cancelBase() // ends hijacked tunnels, which Shutdown does not track
		_ = srv.Close()
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		fresh.Close()
		<-done
		return nil
	}
	cancelBase()
	_ = srv.Close()
	return fmt.Errorf("proxy: serve on %s: %w", ln.Addr(), err)
}

// recorder notes when the response headers went out. It exposes the underlying writer
// through Unwrap, so http.ResponseController finds Flush, and intercepts Hijack to see
// upgrades.
type recorder struct {
	http.ResponseWriter
	c *capture
}

func (w *recorder) WriteHeader(code int) {
	if code >= 200 && w.c.headersSent.IsZero() {
		w.c.headersSent, w.c.wroteStatus = time.Now(), code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.c.headersSent.IsZero() {
		w.c.headersSent, w.c.wroteStatus = time.Now(), http.StatusOK
	}
	w.c.body.write(w.Header(), b)
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.c.upgraded = true
		if w.c.headersSent.IsZero() {
			// The 101 is written on the hijacked connection right after this.
			w.c.headersSent = time.Now()
		}
	}
	return conn, brw, err
}
