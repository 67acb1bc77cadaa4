package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/lab/labstore"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/traffic"
)

// DefaultListen is the lab's address when Config.Listen is empty.
const DefaultListen = "127.0.0.1:7071"

// labNodes are the app servers behind the proxy; with node-local stores each keeps
// its sessions under its own name.
func labNodes() []string { return []string{"a", "b"} }

// environment is a running lab's parts.
type environment struct {
	cfg      Config
	logger   *slog.Logger
	clock    clock
	in       *inspector.Inspector
	app      *app
	redis    bool
	sessions labstore.SessionStore

	published atomic.Int64 // exchanges the proxy handed to the inspector

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errMu   sync.Mutex
	runErr  error // the inspector's, if it stopped on its own
	closers []func() error
}

// Start builds and starts a lab: the session store (the embedded memory backend, or
// the Redis at cfg.RedisURL in phpredis format), the inspector watching it, the app's
// nodes, the attacker's site, and the round-robin proxy on cfg.Listen. Close stops it.
func Start(ctx context.Context, cfg Config) (*Env, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Inspector.Tracker.Matcher == nil {
		cfg.Inspector.Tracker.Matcher = framework.NewMatcher(framework.Builtin())
	}
	if cfg.Inspector.Tracker.Logger == nil {
		cfg.Inspector.Tracker.Logger = cfg.Logger
	}
	if cfg.VirtualTime && cfg.RedisURL != "" {
		return nil, errors.New("lab: virtual time needs the memory store: a Redis expires keys in real time")
	}
	e := &environment{cfg: cfg, logger: cfg.Logger, clock: wallClock{}}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()

	var store backend.Store
	if cfg.RedisURL != "" {
		// The lab writes its own sessions into this Redis, which the trainer asked for
		// with --redis; the issue wants it to need no other setup, so the lab also turns
		// on the keyspace notifications it watches (CONFIG SET, merged with the flags
		// already set, as --configure-notifications does). Watching an app's Redis never
		// does this unasked.
		rs, err := redisstore.Open(ctx, redisstore.Config{URL: cfg.RedisURL, Matcher: cfg.Inspector.Tracker.Matcher,
			ConfigureNotifications: true, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("lab: watch the Redis: %w", err)
		}
		e.closers = append(e.closers, rs.Close)
		sessions, err := labstore.NewRedis(ctx, cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		e.closers = append(e.closers, sessions.Close)
		store, e.sessions, e.redis = rs, sessions, true
	} else {
		opts := memory.Options{Matcher: cfg.Inspector.Tracker.Matcher}
		var jump *jumpClock
		if cfg.VirtualTime {
			jump = newJumpClock()
			opts.Now, e.clock = jump.Now, jump
		}
		mem := memory.New(opts)
		if jump != nil {
			jump.moved = mem.ClockMoved
		}
		store, e.sessions = mem, labstore.NewMemory(mem)
	}
	e.in = inspector.New(store, cfg.Inspector)
	e.app = newApp(e.sessions, cfg.Logger, e.clock)
	started := e.in.Subscribe(64)
	defer started.Cancel()

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.in.Run(runCtx); err != nil {
			e.errMu.Lock()
			e.runErr = err
			e.errMu.Unlock()
			cfg.Logger.Error("lab: the inspector stopped", "err", err)
		}
	}()

	// The lab serves nothing before the watch is live: a session written before the
	// subscription is up would be found only by the inventory, as one that was there
	// before, and its creation never seen (the first run then misses its created event).
	if err := e.waitLive(ctx, started); err != nil {
		return nil, err
	}

	var upstreams []*url.URL
	var upstreamNames []string // the flow's lanes: app-a, app-b rather than random ports
	for _, name := range labNodes() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("lab: start app node %s on a loopback port: %w", name, err)
		}
		e.serve(runCtx, ln, &node{name: name, app: e.app})
		upstreams = append(upstreams, &url.URL{Scheme: "http", Host: ln.Addr().String()})
		upstreamNames = append(upstreamNames, "app-"+name)
	}
	attackerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lab: start the attacker's site on a loopback port: %w", err)
	}
	e.serve(runCtx, attackerLn, attackerSite{a: e.app})
	_, e.app.attackerPort, _ = net.SplitHostPort(attackerLn.Addr().String())

	// The stylesheet has a server of its own outside the proxy: the lab's pages need
	// it, the traffic a trainer inspects does not.
	cssLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lab: start the stylesheet's server on a loopback port: %w", err)
	}
	e.serve(runCtx, cssLn, stylesheetHandler())
	e.app.mu.Lock()
	e.app.stylesheet = "http://" + cssLn.Addr().String() + stylesheetPath
	e.app.mu.Unlock()

	proxyLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("lab: listen on %s: %w; choose another address for the lab", cfg.Listen, err)
	}
	_, e.app.proxyPort, _ = net.SplitHostPort(proxyLn.Addr().String())
	proxy, err := traffic.NewProxy(traffic.ProxyConfig{Listen: proxyLn.Addr().String(), Upstreams: upstreams,
		UpstreamNames: upstreamNames, Logger: cfg.Logger, Mapping: framework.RefMapper(cfg.Inspector.Cookies),
		Sink: func(x *model.Exchange) {
			e.in.PublishExchange(x)
			e.published.Add(1)
		}})
	if err != nil {
		_ = proxyLn.Close()
		return nil, fmt.Errorf("lab: %w", err)
	}
	e.in.SetProxy(proxy.Info(proxyLn.Addr()))
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := proxy.Serve(runCtx, proxyLn); err != nil {
			cfg.Logger.Error("lab: the proxy stopped", "err", err)
		}
	}()
	ok = true
	env := &Env{Inspector: e.in, URL: "http://" + proxyLn.Addr().String(), env: e}
	env.Runner = &Runner{r: newRunner(e)}
	return env, nil
}

// serve runs an http.Server on ln until ctx ends.
func (e *environment) serve(ctx context.Context, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(e.logger.Handler(), slog.LevelDebug)}
	fresh := traffic.TrackFreshConns(srv)
	e.wg.Add(2)
	go func() {
		defer e.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logger.Error("lab: a server stopped", "addr", ln.Addr().String(), "err", err)
		}
		fresh.Close() // after a Shutdown, the connections that sent nothing
	}()
	go func() {
		defer e.wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
}

func (e *environment) close() error {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	if e.app != nil {
		e.app.background.Wait()
	}
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		if err := e.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the proxy, the nodes and the inspector, and waits for them (and for a
// run in progress, which its stopped servers end).
func (e *Env) Close() error {
	if e == nil || e.env == nil {
		return nil
	}
	e.Runner.r.stop()
	return e.env.close()
}

// AttackerURL is the address of the attacker's site (evil.lab.localhost on its own
// port, outside the proxy), for the fixation scenario in a real browser.
func (e *Env) AttackerURL() string {
	return "http://" + net.JoinHostPort(hostEvil, e.env.app.attackerPort)
}

// portFor is the port a lab host is served on.
func (e *environment) portFor(host string) string {
	if host == hostEvil {
		return e.app.attackerPort
	}
	return e.app.proxyPort
}

// maxWaitLive bounds how long Start waits for the watch to go live.
const maxWaitLive = time.Minute

// waitLive returns once the inspector reports the store live (subscribed, inventory
// done), or the inspector's error if it stopped first.
func (e *environment) waitLive(ctx context.Context, sub *stream.Subscription) error {
	ctx, cancel := context.WithTimeout(ctx, maxWaitLive)
	defer cancel()
	// The status is also polled: a status object the small subscription dropped must
	// not leave Start waiting.
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		if e.in.Status().Last.State == model.StateLive {
			return nil
		}
		e.errMu.Lock()
		runErr := e.runErr
		e.errMu.Unlock()
		if runErr != nil {
			return fmt.Errorf("lab: the watch stopped before it went live: %w", runErr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: the watch did not go live within %s: %w", maxWaitLive, ctx.Err())
		case <-sub.C():
		case <-poll.C:
		}
	}
}
