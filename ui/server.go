// Package ui assembles sessionscope's web dashboard: the echo server, its middleware
// (host allowlist, token auth, security headers, websocket origin check), the routes,
// the embedded assets and the websocket hub.
package ui

import (
	"context"
	"errors"
	"fmt"
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
)

// DefaultListen is where the dashboard listens unless told otherwise: loopback only.
const DefaultListen = "127.0.0.1:7070"

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
	auth, err := newTokenAuth(cfg.Token)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, assets: set, auth: auth, bound: cfg.Listen}
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
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
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
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dashboard: shut down: %w", err)
	}
	return nil
}

func (s *Server) boundAddr() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bound
}
