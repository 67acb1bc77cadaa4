package ui_test

// Real Chromium on the Lab screen over a real lab: the scenario's run from the Run
// button, its findings in the run panel and on the Findings screen, and the check
// mark once the fixed twin ran clean.
//
// With SESSIONSCOPE_SCREENSHOTS=<dir>, it also saves the README's lab flow screenshot
// (lab-flow.png) into dir.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/lab"
)

// startLabDashboard starts a lab on a free port and the dashboard over it.
func startLabDashboard(t *testing.T) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	env, err := lab.Start(context.Background(), lab.Config{Listen: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatalf("lab.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
	})
	return serveWithLab(t, env.Inspector, handlers.LabEnv(env))
}

// runFromLabScreen clicks a scenario's button and waits for the run panel to finish;
// it returns the run's final state.
func runFromLabScreen(t *testing.T, b *browsertest.Browser, base, id, button string) string {
	t.Helper()
	b.Navigate(base + "/lab")
	card := `[data-testid="lab-scenario"][data-id="` + id + `"]`
	if resp := b.Load(chromedp.Click(card + ` [data-testid="` + button + `"]`)); resp.Status != http.StatusOK {
		t.Fatalf("%s %s: the page after the click answered %d", id, button, resp.Status)
	}
	b.WaitTestID("lab-run")
	if run := browsertest.Eval[string](b, `document.getElementById("lab-run").dataset.run`); run == "" {
		t.Fatalf("%s %s: no run in the panel", id, button)
	}
	// The panel polls itself until the run ends, then refreshes the scenario list.
	b.WaitJS("the run to end", `document.getElementById("lab-run").dataset.state !== "running"`)
	return browsertest.Eval[string](b, `document.getElementById("lab-run").dataset.state`)
}

func TestBrowserLabRun(t *testing.T) {
	t.Parallel()
	const id = "cookie-path-mismatch"
	scenario, ok := lab.Find(id)
	if !ok {
		t.Fatalf("lab scenario %s is not listed", id)
	}
	b := browsertest.New(t)
	base := startLabDashboard(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	if state := runFromLabScreen(t, b, base, id, "lab-run-broken"); state != lab.RunPassed {
		t.Fatalf("the broken run ended %q: %s", state, b.TextByTestID("lab-run"))
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="lab-step"]').length`); n == 0 {
		t.Error("the run panel shows no step of the virtual browser")
	}
	for _, rule := range scenario.Expected {
		b.WaitReady(`[data-testid="lab-run-findings"] [data-testid="finding"][data-rule="` + rule + `"]`)
	}
	// The list was refreshed when the run ended: the broken run is recorded, no check yet.
	b.WaitJS("the scenario list to show the run", `(document.querySelector('[data-id="`+id+`"] [data-testid="lab-last-broken"]') || {}).textContent === "broken: passed"`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-id="`+id+`"] [data-testid="lab-check"]').length`); n != 0 {
		t.Error("check mark before the fixed twin ran")
	}
	assertNoXSS(t, b, "lab")

	// The same findings on the Findings screen, and the run's flow.
	flow := browsertest.Eval[string](b, `Array.from(document.querySelectorAll('[data-testid="lab-run-links"] a')).filter(function (a) { return a.textContent === "Flow"; })[0].getAttribute("href")`)
	b.Navigate(base + "/findings")
	for _, rule := range scenario.Expected {
		b.WaitReady(`[data-testid="finding-group"][data-rule="` + rule + `"]`)
	}
	b.Navigate(base + flow)
	b.WaitReady(`svg[data-testid="flow"]`)
	if !strings.Contains(b.TextByTestID("flow"), "NotOnPath") {
		t.Errorf("the run's flow does not show the cookie held back: %.300s", b.TextByTestID("flow"))
	}
	if dir := screenshotDir(t); dir != "" {
		b.Screenshot(filepath.Join(dir, "lab-flow.png"), false)
		t.Logf("saved %s", filepath.Join(dir, "lab-flow.png"))
	}

	// The fixed twin runs clean, and the scenario earns its check mark.
	if state := runFromLabScreen(t, b, base, id, "lab-run-fixed"); state != lab.RunPassed {
		t.Fatalf("the fixed run ended %q: %s", state, b.TextByTestID("lab-run"))
	}
	b.WaitReady(`[data-testid="lab-scenario"][data-id="` + id + `"] [data-testid="lab-check"]`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="lab-check"]').length`); n != 1 {
		t.Errorf("%d check marks, want 1", n)
	}
	assertNoXSS(t, b, "lab after the fixed run")
}
