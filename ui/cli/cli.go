// Package cli is sessionscope's command line: it parses flags and environment into one
// Config, builds the components, runs the subcommand (watch, serve, analyze, lab) and
// maps the outcome to an exit status.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	xterm "golang.org/x/term"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/files"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/lab"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/ui"
	"github.com/sessionscope/sessionscope/ui/term"
)

// Main runs sessionscope with the command-line arguments (without the program name)
// and returns its exit status: 0 ok or Ctrl-C, 1 failure, 2 usage or attach; analyze:
// 0 clean, 1 findings at or above --fail-on, 2 unreadable HAR.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, getenv, stderr)
	switch {
	case errors.Is(err, errHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "sessionscope: %v\n", trimUsage(err))
		return 2
	}
	if cfg.Command == "version" {
		fmt.Fprint(stdout, buildVersion())
		return 0
	}
	if cfg.Command == "analyze" {
		return analyze(cfg, os.Stdin, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.Command == "lab" {
		return labCommand(ctx, cfg, stdout, stderr)
	}
	if cfg.Command == "history" {
		return historyCommand(ctx, cfg, stdout, stderr)
	}
	if err := run(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "sessionscope: %v\n", err)
		if errors.Is(err, redisstore.ErrConnect) || errors.Is(err, files.ErrOpen) {
			return 2
		}
		return 1
	}
	return 0
}

// trimUsage drops the "usage: " marker from an error for display.
func trimUsage(err error) string {
	msg := err.Error()
	const p = "usage: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

func run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	logger := newLogger(cfg, stderr)
	// Closed after the inspector stopped publishing: Close drains what is queued.
	cfg.history = openHistory(cfg.History, stderr, logger)
	defer closeHistory(cfg.history, logger)
	if cfg.Export.On {
		exp, err := openExport(ctx, cfg.Export, logger)
		if err != nil {
			return err
		}
		cfg.exporter = exp
		defer closeExport(exp, logger) // after the inspector stopped publishing, as history
	}
	if cfg.Lab {
		return serveLab(ctx, cfg, stderr, logger)
	}
	matcher := framework.NewMatcher(cfg.frameworks)
	for _, n := range cfg.prefixNotes {
		fmt.Fprintf(stderr, "sessionscope: %s\n", n)
	}
	if len(cfg.Files) > 0 {
		fstore, err := files.Open(files.Options{Dirs: cfg.fileDirs, GCMaxLifetime: cfg.GCMaxLifetime,
			MaxPayloadBytes: cfg.MaxPayload, Logger: logger})
		if err != nil {
			return err
		}
		return runInspector(ctx, cfg, inspector.New(fstore, inspectorConfig(cfg, matcher, logger)), stdout, stderr, logger)
	}
	if cfg.Sentinel != "" {
		return runSentinel(ctx, cfg, matcher, stdout, stderr, logger)
	}
	store, err := redisstore.Open(ctx, redisstore.Config{
		URL: cfg.RedisURL, Matcher: matcher, ConfigureNotifications: cfg.ConfigureNotifications, TLS: cfg.TLS,
		ScanCount: cfg.ScanCount, ScanRate: cfg.ScanRate, MaxPayloadBytes: cfg.MaxPayload, Logger: logger,
		Mode: cfg.Mode, PollInterval: cfg.PollInterval, ReadBudget: cfg.ReadBudget, Cluster: cfg.Cluster,
		Nodes: cfg.Export.Nodes,
	})
	if err != nil {
		return err
	}
	defer store.Close()
	for _, w := range store.Warnings() {
		fmt.Fprintf(stderr, "sessionscope: %s\n", w) // e.g. TLS unverified: said on every start
	}

	in := inspector.New(store, inspectorConfig(cfg, matcher, logger))
	return runInspector(ctx, cfg, in, stdout, stderr, logger)
}

// runSentinel watches the master a Sentinel group names, following its failovers.
func runSentinel(ctx context.Context, cfg Config, matcher *framework.Matcher, stdout, stderr io.Writer, logger *slog.Logger) error {
	store, err := redisstore.OpenSentinel(ctx, redisstore.Config{
		URL: cfg.RedisURL, Matcher: matcher, ConfigureNotifications: cfg.ConfigureNotifications, TLS: cfg.TLS,
		ScanCount: cfg.ScanCount, ScanRate: cfg.ScanRate, MaxPayloadBytes: cfg.MaxPayload, Logger: logger,
		Mode: cfg.Mode, PollInterval: cfg.PollInterval, ReadBudget: cfg.ReadBudget,
	}, cfg.sentinel)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, w := range store.Warnings() {
		fmt.Fprintf(stderr, "sessionscope: %s\n", w)
	}
	return runInspector(ctx, cfg, inspector.New(store, inspectorConfig(cfg, matcher, logger)), stdout, stderr, logger)
}

// runInspector runs a built inspector as the command asks, whatever its store: the
// proxy with --proxy-to, then the dashboard (serve) or the terminal stream (watch),
// until ctx ends.
func runInspector(ctx context.Context, cfg Config, in *inspector.Inspector, stdout, stderr io.Writer, logger *slog.Logger) error {
	if len(cfg.proxyUpstreams) > 0 {
		sink := in.PublishExchange
		if cfg.HAROut != "" {
			har, err := traffic.CreateHARFile(cfg.HAROut, traffic.HARWriterOptions{})
			if err != nil {
				return fmt.Errorf("--har-out: %w", err)
			}
			defer func() {
				if err := har.Close(); err != nil {
					logger.Error("har-out: the capture may be incomplete", "file", cfg.HAROut, "err", err)
				}
			}()
			var warnOnce sync.Once // a write error sticks: say it once
			sink = func(x *model.Exchange) {
				if err := har.Add(x); err != nil && !errors.Is(err, traffic.ErrHARClosed) {
					warnOnce.Do(func() { logger.Error("har-out: exchanges are no longer written", "file", cfg.HAROut, "err", err) })
				}
				in.PublishExchange(x)
			}
			fmt.Fprintf(stderr, "sessionscope: writing proxied exchanges to %s (it holds live session cookies: keep it private)\n", cfg.HAROut)
		}
		var warnMu sync.Mutex // one line at a time from concurrent requests
		proxy, err := traffic.NewProxy(traffic.ProxyConfig{Listen: cfg.ProxyListen, Upstreams: cfg.proxyUpstreams,
			UpstreamNames: cfg.proxyNames, Sticky: cfg.Sticky, Sink: sink, Logger: logger, RingSize: cfg.ExchangeLog,
			Mapping: framework.RefMapper(cfg.cookieMappings), Redact: model.NewRedaction(cfg.Redact),
			// An upstream that stops answering is said in sessionscope's own line
			// format, as every other notice, not as a log record.
			Warn: func(line string) {
				warnMu.Lock()
				defer warnMu.Unlock()
				fmt.Fprintf(stderr, "sessionscope: %s\n", line)
			}})
		if err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		// Bind before going on: a port in use must stop sessionscope with one line,
		// not leave it watching with no proxy. The printed address is the bound one
		// (port 0 picks a free port).
		ln, err := net.Listen("tcp", cfg.ProxyListen)
		if err != nil {
			return fmt.Errorf("proxy: listen on %s: %w; pick another address with --proxy-listen", cfg.ProxyListen, err)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		proxyErr := make(chan error, 1)
		go func() { proxyErr <- proxy.Serve(ctx, ln) }()
		defer func() { cancel(); <-proxyErr }()
		info := proxy.Info(ln.Addr())
		in.SetProxy(info)
		upstreams := make([]string, len(info.Upstreams))
		for i, u := range info.Upstreams {
			upstreams[i] = u.URL
			if u.Name != cfg.proxyUpstreams[i].Host {
				upstreams[i] = u.Name + "=" + u.URL
			}
		}
		fmt.Fprintf(stderr, "sessionscope: proxy on %s -> %s (open the app through it)\n", info.Listen, strings.Join(upstreams, ", "))
	}
	if cfg.Command == "serve" {
		return serve(ctx, cfg, in, stderr, logger)
	}
	sub := in.Subscribe(1 << 16)
	var w term.Writer
	if cfg.JSON {
		w = term.NewJSON(stdout)
	} else {
		text := term.NewText(stdout, stderr, useColor(cfg.Color, stdout))
		text.SetPollInterval(cmp.Or(cfg.PollInterval, redisstore.DefaultPollInterval))
		if term.ProgressBarFor(stderr, os.Getenv) {
			text.ShowProgressBar(term.TerminalWidth(stderr))
		}
		w = text
	}
	writeErr := make(chan error, 1)
	go func() { writeErr <- term.Copy(w, sub.C()) }()

	runErr := in.Run(ctx)
	sub.Cancel()
	if err := <-writeErr; err != nil && runErr == nil {
		return fmt.Errorf("write events: %w", err)
	}
	return runErr
}

func newLogger(cfg Config, stderr io.Writer) *slog.Logger {
	logLevel := slog.LevelWarn
	if cfg.Verbose {
		logLevel = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
}

// inspectorConfig is the inspector's part of cfg, shared by watch, serve and the lab.
func inspectorConfig(cfg Config, matcher *framework.Matcher, logger *slog.Logger) inspector.Config {
	return inspector.Config{Tracker: tracker.Config{
		Matcher: matcher, Window: cfg.Window, ReadBudget: cfg.ReadBudget, MaxPayloadBytes: cfg.MaxPayload,
		PayloadCacheBytes: int64(cfg.PayloadCacheMiB) << 20, AuthMarkers: cfg.AuthMarkers, RevealIDs: cfg.RevealIDs, Logger: logger,
		Redact: model.NewRedaction(cfg.Redact), RevealValues: cfg.RevealValues,
	}, ExchangeLog: cfg.ExchangeLog, Cookies: cfg.cookieMappings, LoginPaths: cfg.LoginPaths, HARBudget: int64(cfg.HARBudgetMiB) << 20,
		History: cfg.history, Export: cfg.exporter}
}

func dashboardConfig(cfg Config, logger *slog.Logger) ui.Config {
	uiCfg := ui.DefaultConfig()
	uiCfg.Listen, uiCfg.Token, uiCfg.AllowedHosts = cfg.Listen, cfg.Token, cfg.AllowedHosts
	uiCfg.RevealValues, uiCfg.Redact, uiCfg.Logger = cfg.RevealValues, model.NewRedaction(cfg.Redact), logger
	return uiCfg
}

// listen opens addr for what, and turns the common failure, a port already taken
// (often by another sessionscope), into one line naming the flag that picks another.
func listen(what, addr, flagName string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenError(what, addr, flagName, err)
	}
	return ln, nil
}

func listenError(what, addr, flagName string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s: %s is already in use (another sessionscope?); pick another address with %s", what, addr, flagName)
	}
	return fmt.Errorf("%s: listen on %s: %w; pick another address with %s", what, addr, err, flagName)
}

// serveLab runs the dashboard over the training lab: the lab's inspector is the
// dashboard's source, and its runner drives the Lab screen. It runs until ctx ends.
func serveLab(ctx context.Context, cfg Config, stderr io.Writer, logger *slog.Logger) error {
	srvCfg := dashboardConfig(cfg, logger)
	// The dashboard's port is taken first, so a second sessionscope fails before it
	// builds a lab it cannot show.
	ln, err := listen("dashboard", cfg.Listen, "--listen")
	if err != nil {
		return err
	}
	defer ln.Close()
	env, err := lab.Start(ctx, lab.Config{RedisURL: cfg.RedisURL, Listen: cfg.LabListen,
		Inspector: inspectorConfig(cfg, framework.NewMatcher(cfg.frameworks), logger), Logger: logger})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return listenError("lab", cfg.LabListen, "--lab-listen", err)
		}
		if strings.HasPrefix(err.Error(), "lab") {
			return err // the lab's errors already say they are the lab's
		}
		return fmt.Errorf("lab: %w", err)
	}
	defer func() {
		if err := env.Close(); err != nil {
			logger.Error("lab: stop", "err", err)
		}
	}()
	srvCfg.Lab = handlers.LabEnv(env)
	srv, err := ui.New(srvCfg, env.Inspector)
	if err != nil {
		return err
	}
	store := "an embedded store"
	if cfg.RedisURL != "" {
		store = "Redis " + env.Inspector.Status().Describe
	}
	fmt.Fprintf(stderr, "sessionscope: dashboard on http://%s/ (open Lab to run a scenario)\n", ln.Addr())
	announceToken(stderr, cfg, ln.Addr())
	fmt.Fprintf(stderr, "sessionscope: lab app on %s/ (also %s/), sessions in %s\n", env.URL, localhostURL(env.URL), store)
	return srv.Serve(ctx, ln)
}

// localhostURL is u with its host named localhost: the same lab, another cookie host.
func localhostURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Host = net.JoinHostPort("localhost", p.Port())
	return p.String()
}

// serve runs the inspector behind the dashboard until ctx ends.
func serve(ctx context.Context, cfg Config, in *inspector.Inspector, stderr io.Writer, logger *slog.Logger) error {
	srv, err := ui.New(dashboardConfig(cfg, logger), in)
	if err != nil {
		return err
	}
	ln, err := listen("dashboard", cfg.Listen, "--listen")
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sessionscope: dashboard on http://%s/ (watching %s)\n", ln.Addr(), in.Status().Describe)
	announceToken(stderr, cfg, ln.Addr())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx, ln) }()
	runErr := in.Run(ctx)
	cancel()
	if err := <-serveErr; err != nil && runErr == nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return runErr
}

func useColor(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	return ok && xterm.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}
