package ui_test

// Real-browser tests of the dashboard's shared layout: the live connection's state when
// the dashboard goes away and comes back.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// stoppableDashboard serves the dashboard over env's Inspector on addr until stop is
// called (or the test ends). Several can run one after another on the same address,
// as when sessionscope is restarted.
func stoppableDashboard(t *testing.T, env *uitest.Env, addr string) (base string, stop func()) {
	t.Helper()
	var ln net.Listener
	// The address was just released by the previous server: listening again may take
	// a moment on a loaded machine.
	uitest.WaitFor(t, "listening on "+addr, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	cfg := ui.DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := ui.New(cfg, env.In)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("ui.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	uitest.WaitFor(t, "the hub to run", srv.Hub().Running)
	return "http://" + ln.Addr().String(), stop
}

// connState is what the page says about its live connection.
type connState struct {
	State      string `json:"state"`      // the indicator's data-state
	Text       string `json:"text"`       // the indicator's words
	Background string `json:"background"` // the indicator's computed background colour
	StripConn  bool   `json:"stripConn"`  // the strip's "reconnecting…" is displayed
	StripState bool   `json:"stripState"` // the strip's backend state ("live") is displayed
	StripColor string `json:"stripColor"` // the strip's computed border colour
}

func readConn(b *browsertest.Browser) connState {
	return browsertest.Eval[connState](b, `(function () {
		var ind = document.querySelector('[data-testid="conn-indicator"]');
		var shown = function (sel) { var e = document.querySelector(sel); return !!e && getComputedStyle(e).display !== "none"; };
		return {
			state: ind.dataset.state,
			text: ind.querySelector(".conn-text").textContent,
			background: getComputedStyle(ind).backgroundColor,
			stripConn: shown('[data-testid="strip-conn"]'),
			stripState: shown("#strip-state"),
			stripColor: getComputedStyle(document.querySelector('[data-testid="status-strip"]')).borderTopColor
		};
	})()`)
}

// errColors are the stylesheet's --err, light and dark.
var errColors = map[string]bool{"rgb(207, 34, 46)": true, "rgb(242, 139, 130)": true}

// TestBrowserReconnect: when the dashboard stops, the page says so in red
// ("reconnecting…", in the top bar and in the status strip) instead of still showing
// "live"; when it is started again on the same address the page reconnects by itself,
// turns back to live and catches up with what happened meanwhile, without a reload.
func TestBrowserReconnect(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	base, stop := stoppableDashboard(t, env, addr)

	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)
	b.Navigate(base + "/")
	b.WaitTestID("status-strip")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	live := readConn(b)
	if live.Text != "live" || live.StripConn || !live.StripState || errColors[live.Background] || errColors[live.StripColor] {
		t.Errorf("connected page: %+v, want live, no reconnecting notice, nothing red", live)
	}
	browsertest.Eval[int](b, `window.__sameDocument = 1`)
	browsertest.Eval[int](b, `window.__attempts = 0, document.body.addEventListener("htmx:wsConnecting", function () { window.__attempts++ }), 0`)

	stop()
	b.WaitReady(`[data-testid="conn-indicator"][data-state="reconnecting"]`)
	lost := readConn(b)
	if lost.Text != "reconnecting…" || !errColors[lost.Background] {
		t.Errorf("indicator after the dashboard stopped: %+v, want red and reconnecting…", lost)
	}
	if !lost.StripConn || lost.StripState || !errColors[lost.StripColor] {
		t.Errorf("status strip after the dashboard stopped: %+v, want it red, saying reconnecting…, not the backend's live", lost)
	}
	out := os.Getenv(screenshotsVar)
	if out == "" {
		out = t.ArtifactDir()
	}
	b.Screenshot(filepath.Join(out, "reconnecting.png"), false)

	// A reconnect attempt is not a fresh start: the page keeps saying it is not live.
	b.WaitJS("two reconnect attempts", `window.__attempts >= 2`)
	if again := readConn(b); again.State != "reconnecting" || again.Text != "reconnecting…" {
		t.Errorf("after failed reconnect attempts: %+v, want still reconnecting…", again)
	}

	// Meanwhile the app keeps working.
	id := sid(26)
	if err := redistest.SetEx(context.Background(), env.RDB, "PHPREDIS_SESSION:"+id, phpSession("user_id", 7), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	env.WaitEvent(t, model.KindCreated, model.Ref(id))

	stoppableDashboard(t, env, addr)
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	back := readConn(b)
	if back.Text != "live" || back.StripConn || !back.StripState || errColors[back.Background] {
		t.Errorf("after the dashboard came back: %+v, want live again", back)
	}
	b.WaitReady(rowSel(model.Ref(id)))
	if browsertest.Eval[int](b, `window.__sameDocument || 0`) != 1 {
		t.Fatal("the page reloaded: it must reconnect and catch up by itself")
	}
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %q", ex)
	}
}
