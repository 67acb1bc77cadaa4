package ui_test

// The trainer's controls over a real lab (memory store, virtual time): Clear for
// findings, requests and lab runs, in the API and as forms; POST-redirect-GET for
// Run, Run all and the HAR upload; the empty screens' pointer to the Lab.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/lab"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// startTrainerLab starts a lab on virtual time with a short correlation window, and
// the dashboard over it, which Run all limits to ids (all scenarios when none).
func startTrainerLab(t *testing.T, ids ...string) (*lab.Env, string) {
	t.Helper()
	env, err := lab.Start(context.Background(), lab.Config{Listen: "127.0.0.1:0", VirtualTime: true,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Inspector: inspector.Config{Tracker: tracker.Config{Window: 100 * time.Millisecond}}})
	if err != nil {
		t.Fatalf("lab.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Errorf("lab close: %v", err)
		}
	})
	return env, serveWithLab(t, env.Inspector, subsetLab{Lab: handlers.LabEnv(env), runner: env.Runner, ids: ids})
}

// subsetLab is the real lab whose Run all runs only ids, to keep browser tests short.
type subsetLab struct {
	handlers.Lab
	runner *lab.Runner
	ids    []string
}

func (s subsetLab) StartAll(...string) (lab.Batch, error) { return s.runner.StartAll(s.ids...) }
func (s subsetLab) Batch(id string) (lab.Batch, bool)     { return s.runner.Batch(id) }
func (s subsetLab) CurrentBatch() (lab.Batch, bool)       { return s.runner.CurrentBatch() }
func (s subsetLab) ClearRuns() int                        { return s.runner.ClearRuns() }

// getJSON decodes a GET's JSON answer into v.
func getJSON(t *testing.T, target string, v any, header ...string) {
	t.Helper()
	resp, body := send(t, http.MethodGet, target, nil, header...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", target, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", target, err, body)
	}
}

func apiCounts(t *testing.T, base string) (findings, exchanges int) {
	t.Helper()
	var fs struct{ Findings []model.Finding }
	var xs struct{ Exchanges []model.Exchange }
	getJSON(t, base+"/api/findings", &fs)
	getJSON(t, base+"/api/exchanges", &xs)
	return len(fs.Findings), len(xs.Exchanges)
}

// clearAPI posts to a clear endpoint and returns the count it answered.
func clearAPI(t *testing.T, target string, header ...string) int {
	t.Helper()
	resp, body := send(t, http.MethodPost, target, nil, header...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %d %s", target, resp.StatusCode, body)
	}
	var got struct {
		Cleared *int `json:"cleared"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Cleared == nil {
		t.Fatalf("POST %s answered %s (%v)", target, body, err)
	}
	return *got.Cleared
}

func TestTrainersClear(t *testing.T) {
	t.Parallel()
	env, base := startTrainerLab(t)
	// A fresh lab: every empty screen points at the Lab (the dashboard watches the lab).
	for _, screen := range []string{"/findings", "/requests", "/sessions", "/"} {
		_, body := send(t, http.MethodGet, base+screen, nil)
		if doc := uitest.Parse(t, body); !doc.Has("lab-hint") {
			t.Errorf("%s: no pointer to the Lab in the empty state", screen)
		}
	}
	run, err := env.Runner.Run(context.Background(), "cookie-path-mismatch", false)
	if err != nil || run.State != lab.RunPassed {
		t.Fatalf("lab run: %v %s %v", err, run.State, run.Missing)
	}
	findings, exchanges := apiCounts(t, base)
	if findings == 0 || exchanges == 0 {
		t.Fatalf("after a run: %d findings, %d exchanges", findings, exchanges)
	}

	// Another site cannot clear anything.
	for _, target := range []string{"/api/findings/clear", "/api/exchanges/clear", "/api/lab/runs/clear", "/findings/clear", "/requests/clear", "/lab/runs/clear"} {
		if resp, _ := send(t, http.MethodPost, base+target, url.Values{}, "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin POST %s = %d, want 403", target, resp.StatusCode)
		}
	}
	if f, x := apiCounts(t, base); f != findings || x != exchanges {
		t.Fatalf("a refused clear changed the counts: %d/%d, was %d/%d", f, x, findings, exchanges)
	}

	// The API answers how many it cleared; a second clear finds none.
	if got := clearAPI(t, base+"/api/findings/clear", "Origin", base); got != findings {
		t.Errorf("findings cleared %d, want %d", got, findings)
	}
	if got := clearAPI(t, base+"/api/exchanges/clear"); got != exchanges {
		t.Errorf("exchanges cleared %d, want %d", got, exchanges)
	}
	if f, x := apiCounts(t, base); f != 0 || x != 0 {
		t.Errorf("after clearing: %d findings, %d exchanges", f, x)
	}
	if got := clearAPI(t, base+"/api/findings/clear"); got != 0 {
		t.Errorf("second clear of findings: %d", got)
	}
	if got := clearAPI(t, base+"/api/lab/runs/clear"); got != 1 {
		t.Errorf("lab runs cleared %d, want 1", got)
	}
	if resp, _ := send(t, http.MethodGet, base+"/lab/runs/"+run.ID, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a cleared run still answers %d", resp.StatusCode)
	}

	// The nav badge follows: the hub counts the findings from the source again.
	uitest.WaitFor(t, "the findings badge at 0 after the clear", func() bool {
		_, body := send(t, http.MethodGet, base+"/lab", nil)
		return strings.Contains(string(body), `id="findings-badge" class="badge" data-count="0"`)
	})

	// The cleared screens are empty again, pointing at the Lab.
	for _, screen := range []string{"/findings", "/requests"} {
		_, body := send(t, http.MethodGet, base+screen, nil)
		doc := uitest.Parse(t, body)
		if !doc.Has("lab-hint") {
			t.Errorf("%s: no pointer to the Lab in the empty state", screen)
		}
	}
	_, body := send(t, http.MethodGet, base+"/lab", nil)
	if doc := uitest.Parse(t, body); doc.Has("lab-last-broken") {
		t.Error("the Lab still shows the cleared run as the scenario's last")
	}

	// The cause occurs again: its findings are back, counted from the new run.
	again, err := env.Runner.Run(context.Background(), "cookie-path-mismatch", false)
	if err != nil || again.State != lab.RunPassed {
		t.Fatalf("lab run after clearing: %v %s missing %v unexpected %v", err, again.State, again.Missing, again.Unexpected)
	}
	var fs struct{ Findings []model.Finding }
	getJSON(t, base+"/api/findings", &fs)
	if len(fs.Findings) == 0 {
		t.Fatal("no finding after the scenario ran again")
	}
	for _, f := range fs.Findings {
		if f.FirstSeen.Before(again.Started) {
			t.Errorf("finding %s came back first seen %v, before the new run started %v", f.ID, f.FirstSeen, again.Started)
		}
	}

	// The forms answer with a redirect to the screen they cleared.
	for _, tc := range []struct{ action, screen string }{
		{"/findings/clear", "/findings"}, {"/requests/clear", "/requests"}, {"/lab/runs/clear", "/lab"},
	} {
		resp, _ := send(t, http.MethodPost, base+tc.action, url.Values{}, "Origin", base)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.screen {
			t.Errorf("POST %s = %d to %q, want 303 to %s", tc.action, resp.StatusCode, resp.Header.Get("Location"), tc.screen)
		}
	}
	if f, x := apiCounts(t, base); f != 0 || x != 0 {
		t.Errorf("after the forms: %d findings, %d exchanges", f, x)
	}
}

// TestLabEmptyHintOnlyWithLab: a dashboard that watches an app's store, not the lab,
// does not send its user to the Lab.
func TestLabEmptyHintOnlyWithLab(t *testing.T) {
	t.Parallel()
	base := labServer(t, nil)
	for _, screen := range []string{"/findings", "/requests", "/sessions", "/"} {
		_, body := send(t, http.MethodGet, base+screen, nil)
		if doc := uitest.Parse(t, body); doc.Has("lab-hint") {
			t.Errorf("%s points at the Lab without one", screen)
		}
	}
}

func TestTrainersPostRedirectGet(t *testing.T) {
	t.Parallel()
	env, base := startTrainerLab(t, "healthy", "cookie-path-mismatch")

	// Run: 303 to the run's page, which shows it; reloading starts nothing.
	resp, _ := send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"healthy"}}, "Origin", base)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc == "" {
		t.Fatalf("POST /lab/run = %d to %q", resp.StatusCode, loc)
	}
	first, ok := env.Runner.Current()
	if !ok {
		first, ok = env.Runner.Last("healthy", false)
	}
	if !ok {
		t.Fatal("the Run post started no run")
	}
	for range 2 {
		resp, body := send(t, http.MethodGet, base+loc, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", loc, resp.StatusCode)
		}
		if run, _ := uitest.Attr(uitest.Parse(t, body).One("lab-run"), "data-run"); run != first.ID {
			t.Errorf("GET %s shows run %q, want %q", loc, run, first.ID)
		}
	}
	waitRunsIdle(t, env)
	if r, _ := env.Runner.Last("healthy", false); r.ID != first.ID {
		t.Errorf("reloading the run's page started run %s", r.ID)
	}

	// Run all: 303 to its summary, which reloads itself until every run ended.
	resp, body := send(t, http.MethodPost, base+"/lab/run-all", url.Values{}, "Origin", base)
	loc = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/lab/all/") {
		t.Fatalf("POST /lab/run-all = %d to %q: %.300s", resp.StatusCode, loc, body)
	}
	resp, body = send(t, http.MethodPost, base+"/lab/run", url.Values{"scenario": {"healthy"}}, "Origin", base)
	if resp.StatusCode != http.StatusConflict || !uitest.Parse(t, body).Has("lab-message") {
		t.Errorf("Run during Run all = %d, want 409 with the busy line", resp.StatusCode)
	}
	resp, body = send(t, http.MethodGet, base+loc, nil)
	if st, _ := uitest.Attr(uitest.Parse(t, body).One("lab-batch"), "data-state"); resp.StatusCode != http.StatusOK || st != lab.RunRunning || resp.Header.Get("Refresh") == "" {
		t.Errorf("GET %s while running = %d, state %q, Refresh %q", loc, resp.StatusCode, st, resp.Header.Get("Refresh"))
	}
	uitest.WaitFor(t, "Run all to end", func() bool {
		var b lab.Batch
		getJSON(t, base+loc, &b, "Accept", "application/json")
		return b.State != lab.RunRunning
	})
	resp, body = send(t, http.MethodGet, base+loc, nil)
	doc := uitest.Parse(t, body)
	if st, _ := uitest.Attr(doc.One("lab-batch"), "data-state"); st != lab.RunPassed || resp.Header.Get("Refresh") != "" {
		t.Errorf("finished Run all: state %q, Refresh %q: %s", st, resp.Header.Get("Refresh"), uitest.Text(doc.One("lab-batch")))
	}
	items := doc.ByTestID("lab-batch-item")
	if len(items) != 2 {
		t.Fatalf("%d summary lines, want 2", len(items))
	}
	for _, it := range items {
		if v, _ := uitest.Attr(it, "data-verdict"); v != lab.RunPassed {
			id, _ := uitest.Attr(it, "data-id")
			t.Errorf("%s: verdict %q", id, v)
		}
	}
	if got := uitest.Text(doc.One("lab-batch-summary")); !strings.HasPrefix(got, "2 passed, 0 failed") {
		t.Errorf("summary %q", got)
	}
	if resp, _ := send(t, http.MethodGet, base+"/lab/all/nope", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown Run all = %d", resp.StatusCode)
	}

	// HAR upload: 303 to the import's page; reloading it imports nothing more.
	form, ct := harForm(t)
	req, err := http.NewRequest(http.MethodPost, base+"/requests/har", bytes.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Origin", base)
	hresp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = hresp.Body.Close()
	loc = hresp.Header.Get("Location")
	if hresp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/har/") {
		t.Fatalf("POST /requests/har = %d to %q", hresp.StatusCode, loc)
	}
	for range 2 {
		if resp, body := send(t, http.MethodGet, base+loc, nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "loop_path.har") {
			t.Errorf("GET %s = %d", loc, resp.StatusCode)
		}
	}
	if n := len(env.Inspector.HARImports()); n != 1 {
		t.Errorf("%d imports after one upload and two reloads", n)
	}
}

// waitRunsIdle waits until no lab run is in progress.
func waitRunsIdle(t *testing.T, env *lab.Env) {
	t.Helper()
	uitest.WaitFor(t, "the lab run to end", func() bool {
		_, running := env.Runner.Current()
		return !running
	})
}
