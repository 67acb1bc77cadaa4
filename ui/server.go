// Package ui assembles sessionscope's web dashboard: the echo server, its middleware
// (host allowlist, token auth, security headers, websocket origin check), the routes,
// the embedded assets and the websocket hub.
package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
)

// DefaultListen is where the dashboard listens unless told otherwise: loopback only.
const DefaultListen = "127.0.0.1:7070"

// The dashboard server's timeouts, so that slow or idle clients cannot hold
// connections open (README, Security).
const (
	// HeaderTimeout is how long a client may take to send a request's headers.
	HeaderTimeout = 10 * time.Second
	// BodyTimeout is how long a client may take to send a request's body.
	BodyTimeout = 60 * time.Second
	// IdleTimeout is how long a keep-alive connection may wait for its next request.
	IdleTimeout = 120 * time.Second
	// harUploadTimeout replaces BodyTimeout for the HAR upload, whose body may be up
	// to handlers.MaxHARUpload (200 MiB): about 350 KB/s at the least.
	harUploadTimeout = 10 * time.Minute
)

// timeouts are the server's; tests shorten them.
type timeouts struct {
	header, body, idle time.Duration
}

// Config configures the dashboard server.
type Config struct {
	Listen       string          // address to listen on; default DefaultListen
	Token        string          // required for every page, API call and the websocket when set
	AllowedHosts []string        // extra Host header values (host or host:port) besides loopback names
	RevealValues bool            // show sensitive payload values unredacted
	Redact       model.Redaction // names whose values are redacted; default the built-in list
	Logger       *slog.Logger    // default slog.Default()
	// RingResume lets a reconnecting page resume after its last seq from the
	// inspector's ring of the last 10,000 objects (DefaultConfig sets it). When false,
	// every reconnect gets a refresh marker and the page refetches its whole view.
	RingResume bool
	Hub        HubOptions    // websocket hub tuning; zero means defaults
	ShutdownIn time.Duration // graceful shutdown limit; default 5 s
	// Lab is the training lab behind the Lab screen (handlers.LabEnv); nil when
	// none runs, and the screen then says how to start one.
	Lab handlers.Lab
}

// DefaultConfig is the configuration the dashboard runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{Listen: DefaultListen, RingResume: true}
}

// Server is the dashboard.
type Server struct {
	cfg    Config
	log    *slog.Logger
	echo   *echo.Echo
	hub    *Hub
	assets *assets.Set
	auth   *tokenAuth
	h      *handlers.Handlers
	// metrics serves /metrics; it reads the Source's counters when the Source is a
	// MetricsSource.
	metrics echo.HandlerFunc
	// routed holds "METHOD path" for every route, to answer a wrong method with 405.
	routed   map[string]bool
	timeouts timeouts

	mu    sync.RWMutex
	bound string // host:port actually bound, set by Serve
}

// CheckBind refuses a non-loopback listen address without a token: the dashboard shows
// session ids and personal data, so exposing it to a network needs a token.
func CheckBind(listen, token string) error {
	if token != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w (use host:port, e.g. %s)", listen, err, DefaultListen)
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("refusing to listen on %s without --token (or SESSIONSCOPE_TOKEN): the dashboard shows session ids and personal data", listen)
	}
	return nil
}

// isLoopbackHost reports whether host names only this machine: localhost,
// 127.0.0.0/8 or ::1. An empty host means every interface, which is not loopback.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New builds the dashboard over src. It fails when the listen address is unsafe (see
// CheckBind) or malformed.
func New(cfg Config, src handlers.Source) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if err := CheckBind(cfg.Listen, cfg.Token); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ShutdownIn <= 0 {
		cfg.ShutdownIn = 5 * time.Second
	}
	set, err := assets.New()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, assets: set, bound: cfg.Listen,
		timeouts: timeouts{header: HeaderTimeout, body: BodyTimeout, idle: IdleTimeout}}
	auth := newTokenAuth(cfg.Token, cfg.Logger, s.boundPort)
	s.auth = auth
	s.hub = NewHub(resumeSource{src, cfg.RingResume}, cfg.Logger, cfg.Hub)
	s.h = handlers.New(handlers.Deps{Src: src, Live: s.hub, Auth: auth, Asset: set.URL,
		RevealValues: cfg.RevealValues, Redact: cfg.Redact, Lab: cfg.Lab, Logger: cfg.Logger})
	ms, _ := src.(MetricsSource)
	s.metrics = metricsHandler(ms, s.hub)
	s.echo = s.routes()
	return s, nil
}

// resumeSource turns off ring resumption when the config asks for it, so every
// reconnect gets a refresh marker.
type resumeSource struct {
	handlers.Source
	ring bool
}

func (r resumeSource) Since(after uint64, limit int) ([]model.Object, bool) {
	if !r.ring {
		return nil, false
	}
	return r.Source.Since(after, limit)
}

// Handler is the dashboard's HTTP handler. The live socket streams only while Serve
// runs (Serve starts the hub).
func (s *Server) Handler() http.Handler { return s.echo }

// Hub is the websocket hub, for status and tests.
func (s *Server) Hub() *Hub { return s.hub }

// Serve serves the dashboard on ln until ctx ends, then shuts down gracefully: it stops
// accepting, closes the websockets and waits for requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.bound = ln.Addr().String()
	s.mu.Unlock()
	hubCtx, stopHub := context.WithCancel(ctx)
	defer stopHub()
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		s.hub.Run(hubCtx)
	}()
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.timeouts.header,
		// No ReadTimeout: it would also cancel the context of any handler running past
		// it. Bodies get their own deadline (bodyDeadline); hijacked websockets have
		// none, net/http clears the deadlines when it hands the connection over.
		IdleTimeout: s.timeouts.idle,
		ErrorLog:    slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	fresh := traffic.TrackFreshConns(srv)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("dashboard listening", "url", "http://"+s.boundAddr())
	select {
	case err := <-errc:
		stopHub()
		<-hubDone
		return fmt.Errorf("dashboard: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	stopHub() // closes the websockets, which Shutdown does not track
	<-hubDone
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownIn)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	<-errc // Shutdown closed the listener: every accepted connection is tracked
	fresh.Close()
	if err := <-shut; err != nil {
		_ = srv.Close()
		return fmt.Errorf("dashboard: shut down: requests still running after %s: %w", s.cfg.ShutdownIn, err)
	}
	return nil
}

// boundPort is the port the dashboard listens on, which the login cookie's name carries.
func (s *Server) boundPort() string {
	_, port := splitHost(s.boundAddr())
	return port
}

func (s *Server) boundAddr() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bound
}

// bodyDeadline gives a request with a body s.timeouts.body to send it, so a client
// trickling a body cannot hold a connection. The deadline is lifted once the body is
// read to its end; net/http sets fresh deadlines for the connection's next request.
func (s *Server) bodyDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody {
			return next(c)
		}
		rc := http.NewResponseController(c.Response())
		if err := rc.SetReadDeadline(time.Now().Add(s.timeouts.body)); err != nil {
			return next(c) // not a net/http connection (a test recorder): nothing to bound
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		return next(c)
	}
}

// slowBody replaces bodyDeadline's limit for one route whose bodies may be large.
func slowBody(limit time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(limit))
			return next(c)
		}
	}
}

// deadlineBody clears the connection's read deadline when the body has been read
// to its end, so a handler that runs long after reading is not cut off.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
