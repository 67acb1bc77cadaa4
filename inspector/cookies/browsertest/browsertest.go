// Package browsertest drives a real headless Chromium for the dashboard's browser
// tests, through chromedp.
//
// New starts one browser per test with a fresh profile and stops it when the test
// ends. Every wait has a generous hang-guard deadline: it only stops a test that would
// otherwise hang, and no test asserts on how long anything took. When a test fails, the
// helper saves a full-page screenshot in a directory that outlives the test and logs
// its path, with the page's uncaught exceptions and console errors.
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// HangGuard is how long one browser step may take before the test gives up. It is
// far above anything a working step needs: it turns a hang into a failure, it is not
// a performance assertion.
const HangGuard = 30 * time.Second

// StartGuard is the same for starting Chromium, which on a loaded two-core CI
// machine (other test packages running their own browsers and servers under -race)
// has taken more than HangGuard.
const StartGuard = 2 * time.Minute

// Viewport is the window size pages are laid out at (and the README screenshots use).
const (
	ViewportWidth  = 1280
	ViewportHeight = 800
)

// ChromiumVar is the environment variable that names the Chromium binary to use.
const ChromiumVar = "CHROMIUM_PATH"

// Dialog is a JavaScript dialog (alert, confirm, prompt, beforeunload) the page opened.
type Dialog struct {
	Type    string
	Message string
	URL     string
}

// Response is the HTTP response of one document the tab loaded.
type Response struct {
	URL    string
	Status int64
}

// Browser is one headless Chromium with one tab, owned by one test.
type Browser struct {
	t   testing.TB
	ctx context.Context // the tab

	out *lockedBuffer // Chromium's own output, shown when the test fails

	mu         sync.Mutex
	dialogs    []Dialog
	exceptions []string
	console    []string
	responses  []Response
}

// FindChromium returns the Chromium binary: $CHROMIUM_PATH, /usr/bin/chromium, or
// chromium / chromium-browser on PATH.
func FindChromium() (string, error) {
	if p := os.Getenv(ChromiumVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", ChromiumVar, p, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found")
}

// New starts a headless Chromium for the test and closes it when the test ends.
// Without Chromium the test is skipped, or fails under SESSIONSCOPE_REQUIRE_REAL=1.
// extra are further Chromium options, applied after the defaults, for tests that
// need a command-line flag, e.g.
// chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1").
func New(t testing.TB, extra ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	path, err := FindChromium()
	if err != nil {
		inspectortest.Missing(t, "chromium not found; install it with: apt-get install chromium")
		return nil
	}
	b := &Browser{t: t, out: &lockedBuffer{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.WindowSize(ViewportWidth, ViewportHeight),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.CombinedOutput(b.out),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root (containers, CI).
		opts = append(opts, chromedp.NoSandbox)
	}
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b.ctx = ctx
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first Do starts the browser; it must not carry a timeout (that would stop
	// the browser with it), so the hang guard is a separate watchdog.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: start %s: %v\n%s", path, err, b.out.String())
		}
	case <-time.After(StartGuard):
		t.Fatalf("browsertest: %s did not start within %s\n%s", path, StartGuard, b.out.String())
	}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatalf("browsertest: listen: %v", err)
	}
	// Registered after the browser's cleanup, so it runs before the browser closes.
	t.Cleanup(b.onFailure)
	return b
}

// onEvent records what tests assert on. It runs in chromedp's read loop, so it only
// stores; the dialog is dismissed from another goroutine.
func (b *Browser) onEvent(ev any) {
	switch e := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		b.mu.Lock()
		b.dialogs = append(b.dialogs, Dialog{Type: string(e.Type), Message: e.Message, URL: e.URL})
		b.mu.Unlock()
		go func() {
			ctx, cancel := context.WithTimeout(b.ctx, HangGuard)
			defer cancel()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil && e.ExceptionDetails.Exception.Description != "" {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
		b.mu.Lock()
		b.exceptions = append(b.exceptions, msg)
		b.mu.Unlock()
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		b.mu.Lock()
		b.console = append(b.console, string(e.Type)+": "+strings.Join(parts, " "))
		b.mu.Unlock()
	case *network.EventResponseReceived:
		if e.Type == network.ResourceTypeDocument && e.Response != nil {
			b.mu.Lock()
			b.responses = append(b.responses, Response{URL: e.Response.URL, Status: e.Response.Status})
			b.mu.Unlock()
		}
	}
}

// onFailure keeps evidence of a failed test: a full-page screenshot in a directory
// that is not removed with the test's temp dir, and the page's errors.
func (b *Browser) onFailure() {
	if !b.t.Failed() {
		return
	}
	b.mu.Lock()
	exc, con := append([]string(nil), b.exceptions...), append([]string(nil), b.console...)
	b.mu.Unlock()
	if len(exc) > 0 {
		b.t.Logf("browsertest: uncaught exceptions in the page:\n  %s", strings.Join(exc, "\n  "))
	}
	if len(con) > 0 {
		b.t.Logf("browsertest: console:\n  %s", strings.Join(con, "\n  "))
	}
	ctx, cancel := context.WithTimeout(b.ctx, HangGuard)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("browsertest: no failure screenshot: %v", err)
		return
	}
	// os.MkdirTemp, not t.TempDir: the test's temp dir is deleted when it ends.
	dir, err := os.MkdirTemp("", "sessionscope-browsertest-")
	if err != nil {
		b.t.Logf("browsertest: no failure screenshot: %v", err)
		return
	}
	path := filepath.Join(dir, sanitize(b.t.Name())+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("browsertest: no failure screenshot: %v", err)
		return
	}
	b.t.Logf("browsertest: the page (%s) at the failure: %s", loc, path)
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, name)
}

// Context is the tab's chromedp context, for actions the helpers do not cover. Derive
// a timeout from it with Guard rather than using it directly.
func (b *Browser) Context() context.Context { return b.ctx }

// Guard returns the tab's context limited by the hang guard.
func (b *Browser) Guard() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, HangGuard)
}

// Do runs the steps in the tab, failing the test on an error.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.Guard()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// Run runs one action that returns a value, failing the test on an error.
func Run[T any](b *Browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := b.Guard()
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// Navigate loads url and returns the HTTP response of the document (its status
// included: chromedp does not treat a 4xx document as a load error).
func (b *Browser) Navigate(url string) *network.Response {
	b.t.Helper()
	ctx, cancel := b.Guard()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(url))
	if err != nil {
		b.t.Fatalf("browser: navigate to %s: %v", url, err)
	}
	return resp
}

// Load runs steps that start a navigation (a form submit, a click on a link) and
// waits until the new page has loaded; it returns the document's response.
func (b *Browser) Load(steps ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	ctx, cancel := b.Guard()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return resp
}

// SetViewport lays the page out at w×h CSS pixels.
func (b *Browser) SetViewport(w, h int64) {
	b.t.Helper()
	b.Do(chromedp.EmulateViewport(w, h))
}

// TestID is the CSS selector of elements with data-testid=id.
func TestID(id string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="` + id + `"]`)
}

// WaitReady waits until an element matches the CSS selector.
func (b *Browser) WaitReady(sel string) {
	b.t.Helper()
	b.Do(chromedp.WaitReady(chromedp.CSS(sel)))
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (b *Browser) WaitVisible(sel string) {
	b.t.Helper()
	b.Do(chromedp.WaitVisible(chromedp.CSS(sel)))
}

// WaitTestID waits until an element with data-testid=id exists.
func (b *Browser) WaitTestID(id string) {
	b.t.Helper()
	b.Do(chromedp.WaitReady(TestID(id)))
}

// TextByTestID is the whitespace-collapsed text content of the first element with
// data-testid=id, waiting for it to exist.
func (b *Browser) TextByTestID(id string) string {
	b.t.Helper()
	b.WaitTestID(id)
	// Read in one script, not through a node looked up first: a live page swaps
	// pushed regions in place, and a node found before a swap is gone after it
	// ("No node with given id found").
	sel, _ := json.Marshal(`[data-testid="` + id + `"]`)
	s := Eval[string](b, `(function () { var e = document.querySelector(`+string(sel)+`); return e === null ? "" : e.textContent; })()`)
	return strings.Join(strings.Fields(s), " ")
}

// Eval evaluates a JavaScript expression in the page and returns its value.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	return Run(b, chromedp.Evaluate[T](expr))
}

// EvalAsync evaluates an expression that returns a promise and returns its result.
func EvalAsync[T any](b *Browser, expr string) T {
	b.t.Helper()
	return Run(b, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// WaitJS waits until the JavaScript expression is truthy in the page. It polls from
// Go, so a navigation in between does not break the wait.
func (b *Browser) WaitJS(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(HangGuard)
	var last error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: gave up waiting for %s (%s); last error: %v", what, expr, last)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// OuterHTML is the serialised document, as the page holds it now.
func (b *Browser) OuterHTML() string {
	b.t.Helper()
	return Eval[string](b, "document.documentElement.outerHTML")
}

// Screenshot saves a screenshot of the page (the whole page when full) as PNG.
func (b *Browser) Screenshot(path string, full bool) {
	b.t.Helper()
	var png []byte
	if full {
		png = Run(b, chromedp.FullScreenshot(100))
	} else {
		png = Run(b, chromedp.CaptureScreenshot())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// Dialogs returns the JavaScript dialogs opened so far (each was dismissed).
func (b *Browser) Dialogs() []Dialog {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Dialog(nil), b.dialogs...)
}

// Exceptions returns the uncaught JavaScript exceptions so far.
func (b *Browser) Exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.exceptions...)
}

// Responses returns the document responses the tab received so far, in order.
func (b *Browser) Responses() []Response {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Response(nil), b.responses...)
}

// Cookies returns the browser's cookies for url as name=value.
func (b *Browser) Cookies(url string) map[string]string {
	b.t.Helper()
	res := Run(b, func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	})
	out := map[string]string{}
	for _, c := range res.Cookies {
		out[c.Name] = c.Value
	}
	return out
}

// Quote makes s a JavaScript string literal.
func Quote(s string) string {
	q, _ := json.Marshal(s) // a string always marshals
	return string(q)
}

// lockedBuffer collects Chromium's output from the allocator's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
