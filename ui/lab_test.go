package ui_test

// The Lab screen over a scripted lab: the real lab is exercised by lab_browser_test.go
// and the binary test; here the runs' states are set by the test, so every branch of
// the screen (running, busy, finished, check mark, no lab) is reached on purpose.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/lab"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/ui"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

const hostile = `<script>alert(1)</script><img src=x onerror=alert(1)>`

// fakeLab is a handlers.Lab whose runs finish when the test says so.
type fakeLab struct {
	mu      sync.Mutex
	runs    map[string]lab.Run
	current string
	n       int
}

func newFakeLab() *fakeLab { return &fakeLab{runs: map[string]lab.Run{}} }

func (f *fakeLab) Scenarios() []lab.Scenario {
	return []lab.Scenario{
		{ID: "healthy", Title: "A healthy login", Symptom: "Nothing goes wrong.", Story: []string{"The app regenerates on login."},
			Fix: "Nothing to fix.", Try: lab.Try{Steps: []string{"Log in as alice / alice."}, Path: "/lab/use?scenario=healthy"}},
		{ID: "cookie-path-mismatch", Title: "Cookie path " + hostile, Symptom: "The login loops " + hostile,
			Story: []string{"The cookie is set with Path=/admin " + hostile}, Principle: "Cookie Path must cover every page that needs the session",
			Expected: []string{"login-loop", "cookie-not-sent"}, Fix: "Set the cookie's Path to / " + hostile,
			Try: lab.Try{Steps: []string{"Open the lab " + hostile}, Path: "/lab/use?scenario=cookie-path-mismatch"}},
		{ID: "eviction-under-maxmemory", Title: "Eviction", Symptom: "Users are logged out at random.",
			Expected: []string{"sessions-evicted"}, NeedsRedis: true, Fix: "Give Redis room."},
	}
}

func (f *fakeLab) Start(id string, fixed bool) (lab.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	known := false
	for _, s := range f.Scenarios() {
		if s.ID == id {
			known = true
			if s.NeedsRedis {
				return lab.Run{}, lab.ErrNeedsRedis
			}
		}
	}
	if !known {
		return lab.Run{}, lab.ErrUnknownScenario
	}
	if f.current != "" {
		return lab.Run{}, lab.ErrBusy
	}
	f.n++
	r := lab.Run{ID: fmt.Sprintf("r%d", f.n), Scenario: id, Fixed: fixed, State: lab.RunRunning, Started: time.Now(),
		Steps: []lab.Step{{Time: time.Now(), Actor: "victim", Text: "GET http://127.0.0.1:7071/ → 302 /login " + hostile, Exchange: "x1"}}}
	f.runs[r.ID] = r
	f.current = r.ID
	return r, nil
}

// finish ends the current run with state and the findings given.
func (f *fakeLab) finish(state string, findings ...model.Finding) lab.Run {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.runs[f.current]
	r.State, r.Ended, r.Findings = state, time.Now(), findings
	f.runs[r.ID] = r
	f.current = ""
	return r
}

func (f *fakeLab) Current() (lab.Run, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[f.current]
	return r, ok
}

func (f *fakeLab) Get(id string) (lab.Run, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.runs[id]
	return r, ok
}

func (f *fakeLab) Last(scenario string, fixed bool) (lab.Run, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var last lab.Run
	found := false
	for _, r := range f.runs {
		if r.Scenario == scenario && r.Fixed == fixed && r.State != lab.RunRunning && (!found || r.Started.After(last.Started)) {
			last, found = r, true
		}
	}
	return last, found
}

func (f *fakeLab) URL() string { return "http://127.0.0.1:7071" }

// labServer serves the dashboard with lab (nil: none) on a free port.
func labServer(t *testing.T, l handlers.Lab) string {
	t.Helper()
	return serveWithLab(t, hubSource{hub: stream.NewBroadcaster()}, l)
}

// serveWithLab serves the dashboard over src with lab on a free port until the test ends.
func serveWithLab(t *testing.T, src handlers.Source, l handlers.Lab) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ui.DefaultConfig()
	cfg.Listen, cfg.Lab = ln.Addr().String(), l
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := ui.New(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	uitest.WaitFor(t, "the hub to run", srv.Hub().Running)
	return "http://" + ln.Addr().String()
}

var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t *testing.T, method, target string, form url.Values, header ...string) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func noRawHostile(t *testing.T, where string, body []byte) {
	t.Helper()
	for _, s := range []string{"<script>alert(1)", "<img src=x"} {
		if strings.Contains(string(body), s) {
			t.Errorf("%s: %q unescaped", where, s)
		}
	}
}

func TestLabScreen(t *testing.T) {
	fl := newFakeLab()
	base := labServer(t, fl)

	// The list: every scenario, its buttons, expected findings linked to Findings,
	// the way to try it in a browser; hostile text escaped.
	resp, body := send(t, http.MethodGet, base+"/lab", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /lab = %d", resp.StatusCode)
	}
	noRawHostile(t, "lab", body)
	doc := uitest.Parse(t, body)
	cards := doc.ByTestID("lab-scenario")
	if len(cards) != 3 {
		t.Fatalf("%d scenario cards, want 3", len(cards))
	}
	if n := len(doc.ByTestID("lab-run-broken")) + len(doc.ByTestID("lab-run-fixed")); n != 6 {
		t.Errorf("%d run buttons, want 6", n)
	}
	if n := len(doc.ByTestID("lab-check")); n != 0 {
		t.Errorf("%d check marks before any run", n)
	}
	if txt := uitest.Text(doc.One("lab-run")); !strings.Contains(txt, "No run yet") {
		t.Errorf("empty run panel %q", txt)
	}
	if !strings.Contains(string(body), `href="/findings?rule=cookie-not-sent"`) {
		t.Error("an expected finding does not link to the Findings screen filtered to its rule")
	}
	if !strings.Contains(string(body), `href="http://127.0.0.1:7071/lab/use?scenario=cookie-path-mismatch"`) {
		t.Error("no Try link into the lab app")
	}
	if n := len(doc.ByTestID("lab-needs-redis")); n != 1 {
		t.Errorf("%d needs-Redis marks, want 1", n)
	}
	if a, _ := uitest.Attr(doc.One("nav-lab"), "aria-current"); a != "page" {
		t.Errorf("nav Lab aria-current %q", a)
	}

	// A form post from another site is refused, and starts nothing.
	resp, _ = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"healthy"}}, "Origin", "http://evil.example")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST = %d, want 403", resp.StatusCode)
	}
	if _, ok := fl.Current(); ok {
		t.Fatal("a cross-origin post started a run")
	}

	// Run: a redirect to the run's page, which shows the run in progress and polls.
	resp, _ = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"cookie-path-mismatch"}}, "Origin", base)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/lab/runs/r1" {
		t.Fatalf("POST /lab/run = %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = send(t, http.MethodGet, base+"/lab/runs/r1", nil)
	noRawHostile(t, "running", body)
	doc = uitest.Parse(t, body)
	panel := doc.One("lab-run")
	if st, _ := uitest.Attr(panel, "data-state"); st != "running" {
		t.Errorf("panel state %q", st)
	}
	if p, _ := uitest.Attr(panel, "data-poll"); p != "/lab/runs/r1/panel" {
		t.Errorf("panel polls %q", p)
	}
	if n := len(doc.ByTestID("lab-step")); n != 1 {
		t.Errorf("%d steps shown", n)
	}

	// A second Run while one runs: 409 and the busy line on the Lab screen.
	resp, body = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"healthy"}, "fixed": {"1"}}, "Origin", base)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("POST while busy = %d, want 409", resp.StatusCode)
	}
	doc = uitest.Parse(t, body)
	if txt := uitest.Text(doc.One("lab-message")); txt != lab.ErrBusy.Error() {
		t.Errorf("busy message %q", txt)
	}
	if doc.Has("error-page") || !doc.Has("lab-scenarios") {
		t.Error("busy answered an error page instead of the Lab screen")
	}
	resp, body = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"healthy"}}, "Accept", "application/json")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "already in progress") {
		t.Errorf("JSON POST while busy = %d %s", resp.StatusCode, body)
	}

	// The run ends: the fragment says so, with its findings linked into Requests/Flow.
	fl.finish(lab.RunPassed, model.Finding{ID: "f1", Rule: "login-loop", Severity: model.SeverityError, Title: "Login loop " + hostile,
		Detail: hostile, Exchanges: []string{"x1", "x2"}, Count: 1})
	resp, body = send(t, http.MethodGet, base+"/lab/runs/r1/panel", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /lab/runs/r1/panel = %d", resp.StatusCode)
	}
	noRawHostile(t, "fragment", body)
	if strings.Contains(string(body), "<html") {
		t.Error("the fragment is a whole page")
	}
	doc = uitest.Parse(t, body)
	if st, _ := uitest.Attr(doc.One("lab-run"), "data-state"); st != "passed" {
		t.Errorf("finished panel state %q", st)
	}
	if !strings.Contains(string(body), `href="/flow?finding=f1"`) || !strings.Contains(string(body), `href="/findings?rule=login-loop"`) {
		t.Error("the run's finding does not link to its flow and the Findings screen")
	}
	if resp, _ := send(t, http.MethodGet, base+"/lab/runs/nope", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown run = %d", resp.StatusCode)
	}

	// The check mark needs the fixed twin clean too. Opened afresh, the screen shows
	// the latest run.
	_, body = send(t, http.MethodGet, base+"/lab", nil)
	doc = uitest.Parse(t, body)
	if n := len(doc.ByTestID("lab-check")); n != 0 {
		t.Errorf("check mark after the broken run alone")
	}
	if run, _ := uitest.Attr(doc.One("lab-run"), "data-run"); run != "r1" {
		t.Errorf("the panel shows run %q, want the latest, r1", run)
	}
	resp, body = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"cookie-path-mismatch"}, "fixed": {"1"}}, "Accept", "application/json")
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), `"fixed":true`) {
		t.Fatalf("JSON POST = %d %s", resp.StatusCode, body)
	}
	fl.finish(lab.RunPassed)
	_, body = send(t, http.MethodGet, base+"/lab", nil)
	doc = uitest.Parse(t, body)
	checks := doc.ByTestID("lab-check")
	if len(checks) != 1 {
		t.Fatalf("%d check marks, want 1", len(checks))
	}
	for _, c := range doc.ByTestID("lab-scenario") {
		id, _ := uitest.Attr(c, "data-id")
		checked, _ := uitest.Attr(c, "data-checked")
		if (id == "cookie-path-mismatch") != (checked == "true") {
			t.Errorf("scenario %s checked=%s", id, checked)
		}
	}

	// Unknown and Redis-only scenarios: one line on the Lab screen.
	resp, body = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {hostile}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(uitest.Text(uitest.Parse(t, body).One("lab-message")), "no lab scenario") {
		t.Errorf("unknown scenario = %d", resp.StatusCode)
	}
	noRawHostile(t, "unknown", body)
	resp, body = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"eviction-under-maxmemory"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "--redis") {
		t.Errorf("Redis-only scenario = %d", resp.StatusCode)
	}
	_, body = send(t, http.MethodGet, base+"/lab?run="+url.QueryEscape(hostile), nil)
	noRawHostile(t, "run param", body)
}

func TestLabScreenWithoutLab(t *testing.T) {
	base := labServer(t, nil)
	resp, body := send(t, http.MethodGet, base+"/lab", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /lab = %d", resp.StatusCode)
	}
	txt := uitest.Text(uitest.Parse(t, body).One("lab-missing"))
	for _, want := range []string{"sessionscope alone", "sessionscope serve --redis URL --lab"} {
		if !strings.Contains(txt, want) {
			t.Errorf("no-lab text %q lacks %q", txt, want)
		}
	}
	resp, body = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"healthy"}})
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "--lab") {
		t.Errorf("POST without a lab = %d", resp.StatusCode)
	}
	if resp, _ := send(t, http.MethodGet, base+"/lab/runs/r1", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("run fragment without a lab = %d", resp.StatusCode)
	}
}
