// Command sessionscope shows what happens to a web app's sessions while it happens.
// main only wires: it parses flags into a Config, builds the components, runs them and
// maps the outcome to an exit status (0 ok or Ctrl-C, 1 failure, 2 usage or attach;
// analyze: 0 clean, 1 findings at or above --fail-on, 2 unreadable HAR).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/output"
	"github.com/sessionscope/sessionscope/ui"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func realMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, getenv, stderr)
	switch {
	case errors.Is(err, errHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "sessionscope: %v\n", trimUsage(err))
		return 2
	}
	if cfg.Command == "analyze" {
		return analyze(cfg, os.Stdin, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "sessionscope: %v\n", err)
		if errors.Is(err, redisstore.ErrConnect) {
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
	logLevel := slog.LevelWarn
	if cfg.Verbose {
		logLevel = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	matcher := framework.NewMatcher(cfg.frameworks)
	store, err := redisstore.Open(ctx, redisstore.Config{
		URL: cfg.RedisURL, Matcher: matcher, ConfigureNotifications: cfg.ConfigureNotifications,
		ScanCount: cfg.ScanCount, MaxPayloadBytes: cfg.MaxPayload, Logger: logger,
	})
	if err != nil {
		return err
	}
	defer store.Close()

	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{
		Matcher: matcher, Window: cfg.Window, ReadBudget: cfg.ReadBudget, MaxPayloadBytes: cfg.MaxPayload,
		AuthMarkers: cfg.AuthMarkers, RevealIDs: cfg.RevealIDs, Logger: logger,
	}, ExchangeLog: cfg.ExchangeLog, Cookies: cfg.cookieMappings})
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
		proxy, err := traffic.NewProxy(traffic.ProxyConfig{Listen: cfg.ProxyListen, Upstreams: cfg.proxyUpstreams,
			Sticky: cfg.Sticky, Sink: sink, Logger: logger, RingSize: cfg.ExchangeLog,
			Mapping: framework.RefMapper(cfg.cookieMappings)})
		if err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		proxyErr := make(chan error, 1)
		go func() { proxyErr <- proxy.ListenAndServe(ctx) }()
		defer func() { cancel(); <-proxyErr }()
		fmt.Fprintf(stderr, "sessionscope: proxy on http://%s/ -> %s (open the app through it)\n", cfg.ProxyListen, strings.Join(cfg.ProxyTo, ", "))
	}
	if cfg.Command == "serve" {
		return serve(ctx, cfg, in, stderr, logger)
	}
	sub := in.Subscribe(1 << 16)
	var w output.Writer
	if cfg.JSON {
		w = output.NewJSON(stdout)
	} else {
		w = output.NewText(stdout, stderr, useColor(cfg.Color, stdout))
	}
	writeErr := make(chan error, 1)
	go func() { writeErr <- output.Copy(w, sub.C()) }()

	runErr := in.Run(ctx)
	sub.Cancel()
	if err := <-writeErr; err != nil && runErr == nil {
		return fmt.Errorf("write events: %w", err)
	}
	return runErr
}

// serve runs the inspector behind the dashboard until ctx ends.
func serve(ctx context.Context, cfg Config, in *inspector.Inspector, stderr io.Writer, logger *slog.Logger) error {
	uiCfg := ui.DefaultConfig()
	uiCfg.Listen, uiCfg.Token, uiCfg.AllowedHosts = cfg.Listen, cfg.Token, cfg.AllowedHosts
	uiCfg.RevealValues, uiCfg.Logger = cfg.RevealValues, logger
	srv, err := ui.New(uiCfg, in)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("dashboard: listen on %s: %w; pick another address with --listen", cfg.Listen, err)
	}
	fmt.Fprintf(stderr, "sessionscope: dashboard on http://%s/ (watching %s)\n", ln.Addr(), in.Status().Describe)
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
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}
