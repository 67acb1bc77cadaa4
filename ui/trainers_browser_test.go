package ui_test

// Real Chromium over a real lab: Run all from the Lab screen ends with its summary,
// the Clear buttons empty Findings, Requests and the Lab's runs, and the lab app's
// pages, opened from a scenario's "Try it" link, show the scenario and the demo
// account, styled by the lab's own stylesheet.

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/lab"
)

func TestBrowserTrainers(t *testing.T) {
	t.Parallel()
	const id = "cookie-path-mismatch"
	scenario, ok := lab.Find(id)
	if !ok {
		t.Fatalf("lab scenario %s is not listed", id)
	}
	b := browsertest.New(t)
	_, base := startTrainerLab(t, "healthy", id)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	// Run all: the post redirects to the summary, which reloads itself until the
	// last run ended.
	b.Navigate(base + "/lab")
	if resp := b.Load(chromedp.Click(`[data-testid="lab-run-all"]`)); resp.Status != http.StatusOK {
		t.Fatalf("Run all: the page after the click answered %d", resp.Status)
	}
	if loc := browsertest.Run(b, chromedp.Location()); !strings.HasPrefix(loc, base+"/lab/all/") {
		t.Fatalf("Run all landed on %s, want its summary page", loc)
	}
	b.WaitJS("Run all to end", `(document.querySelector('[data-testid="lab-batch"]') || {dataset: {}}).dataset.state === "passed"`)
	// Read with one script, not by node: the page that still ran reloads itself, and a
	// node looked up before that reload is gone after it.
	if got := browsertest.Eval[string](b, `(document.querySelector('[data-testid="lab-batch-summary"]') || {textContent: ""}).textContent.trim()`); !strings.HasPrefix(got, "2 passed, 0 failed") {
		t.Errorf("summary %q", got)
	}
	verdicts := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid="lab-batch-item"]')).map(function (r) { return r.dataset.id + "=" + r.dataset.verdict; })`)
	if strings.Join(verdicts, " ") != "healthy=passed "+id+"=passed" {
		t.Errorf("summary lines %v", verdicts)
	}
	assertNoXSS(t, b, "Run all summary")
	if dir := screenshotDir(t); dir != "" {
		b.Screenshot(filepath.Join(dir, "lab-run-all.png"), false)
		t.Logf("saved %s", filepath.Join(dir, "lab-run-all.png"))
	}

	// Findings: the run's findings, then none after Clear.
	b.Navigate(base + "/findings")
	for _, rule := range scenario.Expected {
		b.WaitReady(`[data-testid="finding-group"][data-rule="` + rule + `"]`)
	}
	if resp := b.Load(chromedp.Click(`[data-testid="findings-clear"]`)); resp.Status != http.StatusOK {
		t.Fatalf("Clear findings: %d", resp.Status)
	}
	b.WaitReady(`[data-testid="lab-hint"]`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="finding-group"]').length`); n != 0 {
		t.Errorf("%d finding groups after Clear", n)
	}

	// Requests: rows, then none after Clear.
	b.Navigate(base + "/requests")
	b.WaitReady(`#requests-table tbody tr`)
	if resp := b.Load(chromedp.Click(`[data-testid="requests-clear"]`)); resp.Status != http.StatusOK {
		t.Fatalf("Clear requests: %d", resp.Status)
	}
	b.WaitVisible(`[data-testid="lab-hint"]`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('#requests-table tbody tr').length`); n != 0 {
		t.Errorf("%d request rows after Clear", n)
	}

	// Lab: the last runs, then "not run" after Clear runs.
	b.Navigate(base + "/lab")
	b.WaitReady(`[data-id="` + id + `"] [data-testid="lab-last-broken"]`)
	if resp := b.Load(chromedp.Click(`[data-testid="lab-clear-runs"]`)); resp.Status != http.StatusOK {
		t.Fatalf("Clear runs: %d", resp.Status)
	}
	b.WaitReady(`[data-testid="lab-scenarios"]`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="lab-last-broken"], [data-testid="lab-check"]').length`); n != 0 {
		t.Errorf("%d last-run links or check marks after Clear runs", n)
	}

	// Try it: the scenario's card names the lab's real address; its link opens the lab
	// app, which names the scenario and the demo account, styled by its stylesheet.
	try := browsertest.Eval[string](b, `document.querySelector('[data-id="`+id+`"] [data-testid="lab-try-link"]').getAttribute("href")`)
	fixed := browsertest.Eval[string](b, `document.querySelector('[data-id="`+id+`"] [data-testid="lab-try-fixed-link"]').getAttribute("href")`)
	if !strings.HasPrefix(try, "http://127.0.0.1:") || !strings.Contains(try, "scenario="+id) || fixed != try+"&fixed=1" {
		t.Errorf("try links %q and %q", try, fixed)
	}
	for _, tc := range []struct {
		url, variant string
	}{{try, "broken"}, {fixed, "fixed twin"}} {
		b.Navigate(tc.url)
		b.WaitReady(`[data-testid="lab-credentials"]`)
		if got := b.TextByTestID("lab-scenario"); got != scenario.Title {
			t.Errorf("%s: the lab app names the scenario %q, want %q", tc.variant, got, scenario.Title)
		}
		if got := b.TextByTestID("lab-variant"); got != tc.variant {
			t.Errorf("the lab app's variant %q, want %q", got, tc.variant)
		}
		if got := b.TextByTestID("lab-credentials"); !strings.Contains(got, "alice / wonderland") {
			t.Errorf("the login page's demo account: %q", got)
		}
		// The stylesheet loaded (it is a file the lab serves, not inline style).
		b.WaitJS("the lab's stylesheet", `getComputedStyle(document.querySelector('[data-testid="lab-banner"]')).display === "flex"`)
		if dir := screenshotDir(t); dir != "" && tc.variant == "broken" {
			b.Screenshot(filepath.Join(dir, "lab-app.png"), false)
		}
	}
}
