package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/ui/term"
)

// The proxy phase runs the application and sessionscope's proxy in child processes of
// ssbench (this binary again, picked by roleEnv), so that each can be pinned to a CPU
// and its CPU time read on its own, as the real app and sessionscope would be.
const (
	roleEnv     = "SSBENCH_ROLE"      // upstream or proxy
	upstreamEnv = "SSBENCH_UPSTREAM"  // proxy role: the upstream's URL
	redisEnv    = "SSBENCH_REDIS"     // proxy role: the Redis sessionscope attaches to
	profileEnv  = "SSBENCH_PROXY_CPU" // proxy role: write a CPU profile here
)

// upstreamBody is the page the benchmark app serves: a small HTML page.
var upstreamBody = []byte("<!doctype html><html><head><title>Dashboard</title></head><body><h1>Dashboard</h1>" +
	strings.Repeat("<p>Signed in. Your recent orders are listed below.</p>", 8) + "</body></html>\n")

// runRole runs a child role until its standard input closes (ssbench ends it so), then
// prints its statistics as one JSON line on stdout.
func runRole(role string) int {
	var err error
	switch role {
	case "upstream":
		err = serveUpstream()
	case "proxy":
		err = serveProxies()
	case roleInventory:
		err = runInventoryRole()
	case roleOTLPSink:
		err = runOTLPSink()
	default:
		err = fmt.Errorf("unknown %s %q", roleEnv, role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ssbench %s: %v\n", role, err)
		return 1
	}
	return 0
}

// newSessions numbers the sessions the benchmark app starts.
var newSessions atomic.Uint64

// upstreamHandler is a session app's page: it answers with the session cookie the
// request carried, refreshed (as a rolling session does), or, as PHP's session_start
// does for a request without one, a new session id.
func upstreamHandler(w http.ResponseWriter, r *http.Request) {
	id := ""
	if c, err := r.Cookie("PHPSESSID"); err == nil {
		id = c.Value
	} else {
		id = fmt.Sprintf("ssbenchnew%016d", newSessions.Add(1))
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Set-Cookie", "PHPSESSID="+id+"; path=/; HttpOnly; SameSite=Lax")
	h.Set("Content-Length", strconv.Itoa(len(upstreamBody)))
	_, _ = w.Write(upstreamBody)
}

func serveUpstream() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(upstreamHandler), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("ready upstream=http://%s gomaxprocs=%d\n", ln.Addr(), runtime.GOMAXPROCS(0))
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	_, peak := selfRSS()
	return json.NewEncoder(os.Stdout).Encode(roleStats{PeakRSS: peak})
}

// roleStats is what a child reports when it ends.
type roleStats struct {
	Exchanges map[string]uint64 `json:"exchanges,omitempty"` // recorded, by proxy
	Published uint64            `json:"published,omitempty"` // objects the inspector published
	Written   int64             `json:"written,omitempty"`   // NDJSON bytes the subscriber wrote
	Dropped   int64             `json:"dropped,omitempty"`   // objects the subscriber lost
	Findings  []string          `json:"findings,omitempty"`  // rule ids of the findings
	PeakRSS   int64             `json:"peak_rss_bytes"`
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

// serveProxies runs two proxies in front of the upstream, each on its own port:
// plain (httputil.ReverseProxy as its documentation sets one up, nothing recorded) and
// capture (traffic.Proxy handing every exchange to an inspector attached to Redis,
// whose stream a subscriber writes as NDJSON, as `watch --json --proxy-to` does).
func serveProxies() error {
	up, err := url.Parse(os.Getenv(upstreamEnv))
	if err != nil || up.Host == "" {
		return fmt.Errorf("%s=%q: want the upstream URL", upstreamEnv, os.Getenv(upstreamEnv))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	matcher := framework.NewMatcher(framework.Builtin())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: os.Getenv(redisEnv), Matcher: matcher})
	if err != nil {
		return err
	}
	defer store.Close()
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
	sub := in.Subscribe(1 << 16)
	out := &countingWriter{}
	copied := make(chan error, 1)
	go func() { copied <- term.Copy(term.NewJSON(out), sub.C()) }()
	runErr := make(chan error, 1)
	go func() { runErr <- in.Run(ctx) }()

	transport := func() *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		t.MaxIdleConnsPerHost = 256 // the load generator's connections, each kept alive
		return t
	}
	logger := slog.New(slog.DiscardHandler)
	capture, err := traffic.NewProxy(traffic.ProxyConfig{Upstreams: []*url.URL{up}, Transport: transport(), Logger: logger,
		Sink: in.PublishExchange, Mapping: framework.RefMapper(nil)})
	if err != nil {
		return err
	}
	plain := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.Out.Host = pr.In.Host; pr.SetXForwarded() },
		Transport: transport(),
		ErrorLog:  slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	addrs := map[string]string{}
	serveErr := make(chan error, 2)
	for _, p := range []struct {
		name string
		h    http.Handler
	}{{"plain", plain}, {"capture", capture}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addrs[p.name] = "http://" + ln.Addr().String()
		srv := &http.Server{Handler: p.h, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
		defer srv.Close()
	}
	if path := os.Getenv(profileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("ready plain=%s capture=%s gomaxprocs=%d\n", addrs["plain"], addrs["capture"], runtime.GOMAXPROCS(0))
	stdinDone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin)); close(stdinDone) }()
	select {
	case <-stdinDone:
	case err := <-serveErr:
		return err
	case err := <-runErr:
		return fmt.Errorf("inspector stopped: %v", err)
	}
	st := roleStats{Exchanges: map[string]uint64{"capture": capture.Stats().Total},
		Published: in.Seq(), Dropped: sub.Dropped()}
	for _, f := range in.Findings() {
		st.Findings = append(st.Findings, f.Rule)
	}
	cancel()
	<-runErr
	sub.Cancel()
	<-copied
	st.Written = out.n
	_, st.PeakRSS = selfRSS()
	return json.NewEncoder(os.Stdout).Encode(st)
}
