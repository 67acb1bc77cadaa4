package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/lab"
	"github.com/sessionscope/sessionscope/views"
)

// Lab is the training lab as the Lab screen sees it; *lab.Env satisfies it through
// LabEnv. It is optional: without it the screen says how to start the lab.
type Lab interface {
	// Scenarios lists the scenarios in display order.
	Scenarios() []lab.Scenario
	// Start begins a run in the background; lab.ErrBusy while another runs.
	Start(id string, fixed bool) (lab.Run, error)
	// Current is the run in progress.
	Current() (lab.Run, bool)
	// Get is a run by id, in progress or finished.
	Get(runID string) (lab.Run, bool)
	// Last is the latest finished run of a scenario, broken or fixed.
	Last(scenario string, fixed bool) (lab.Run, bool)
	// URL is the lab app's address through the proxy, e.g. http://127.0.0.1:7071.
	URL() string
}

// LabEnv adapts a running lab environment to the Lab screen.
func LabEnv(env *lab.Env) Lab { return labEnv{Runner: env.Runner, url: env.URL} }

type labEnv struct {
	*lab.Runner
	url string
}

func (labEnv) Scenarios() []lab.Scenario { return lab.Scenarios() }
func (e labEnv) URL() string             { return e.url }

// LabBatches is a Lab that can run every scenario in a row (Run all); LabEnv's is one.
type LabBatches interface {
	// StartAll begins a batch in the background, of every scenario or of those
	// named; lab.ErrBusy while a run goes.
	StartAll(ids ...string) (lab.Batch, error)
	// Batch is a batch by id, in progress or finished.
	Batch(id string) (lab.Batch, bool)
	// CurrentBatch is the batch in progress.
	CurrentBatch() (lab.Batch, bool)
}

// labBatchURL is a Run all's summary page.
func labBatchURL(id string) string { return "/lab/all/" + url.PathEscape(id) }

// labRunURL is a run's page: the Lab screen with the run in its panel.
func labRunURL(id string) string { return "/lab/runs/" + url.PathEscape(id) }

// labRunPanelURL is the run panel alone, which the page polls while the run goes.
func labRunPanelURL(id string) string { return labRunURL(id) + "/panel" }

// LabShow is GET /lab: the scenarios with their Run buttons, story and fix, and the
// run panel (the run named by ?run=, else the one in progress, else the latest).
func (h *Handlers) LabShow(c echo.Context) error {
	return h.labPage(c, http.StatusOK, "", c.QueryParam("run"))
}

// LabRunStart is POST /lab/run (form fields scenario and fixed): it starts a run and
// redirects to the Lab screen showing it. A run already in progress answers 409 with
// the Lab screen and lab.ErrBusy's text, not an error page. With Accept:
// application/json it answers 202 and the run instead.
func (h *Handlers) LabRunStart(c echo.Context) error {
	wantJSON := wantsJSON(c)
	fail := h.labFailure(c, wantJSON)
	if h.d.Lab == nil {
		return fail(http.StatusNotFound, noLabMessage)
	}
	id := strings.TrimSpace(c.FormValue("scenario"))
	fixed := c.FormValue("fixed") == "1" || c.FormValue("fixed") == "true"
	run, err := h.d.Lab.Start(id, fixed)
	switch {
	case errors.Is(err, lab.ErrBusy):
		return fail(http.StatusConflict, err.Error())
	case errors.Is(err, lab.ErrUnknownScenario):
		return fail(http.StatusNotFound, fmt.Sprintf("There is no lab scenario %q: pick one from the list.", truncate(id, 60)))
	case errors.Is(err, lab.ErrNeedsRedis):
		return fail(http.StatusConflict, err.Error())
	case err != nil:
		return fmt.Errorf("lab: start %s: %w", id, err)
	}
	h.d.Logger.Info("lab run started", "run", run.ID, "scenario", run.Scenario, "fixed", run.Fixed)
	if wantJSON {
		return c.JSON(http.StatusAccepted, run)
	}
	// POST-redirect-GET: reloading the run's page shows the run, it does not start another.
	return c.Redirect(http.StatusSeeOther, labRunURL(run.ID))
}

// LabRunShow is GET /lab/runs/:id, where Run redirects: the Lab screen with the run
// in its panel. A run no longer kept is a 404 page that leads back to the Lab.
func (h *Handlers) LabRunShow(c echo.Context) error {
	if h.d.Lab == nil {
		return echo.NewHTTPError(http.StatusNotFound, noLabMessage)
	}
	id := c.Param("id")
	if _, ok := h.d.Lab.Get(id); !ok {
		return h.ErrorPage(c, http.StatusNotFound, "Lab run not kept",
			"This lab run is not kept any more (cleared, or too old): start it again from the Lab screen.",
			views.Link{Text: "Go to Lab", URL: "/lab"})
	}
	return h.labPage(c, http.StatusOK, "", id)
}

// LabRunPanel is GET /lab/runs/:id/panel: the run panel alone, which the Lab screen
// polls while the run is in progress.
func (h *Handlers) LabRunPanel(c echo.Context) error {
	if h.d.Lab == nil {
		return echo.NewHTTPError(http.StatusNotFound, noLabMessage)
	}
	run, ok := h.d.Lab.Get(c.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "This lab run is not kept any more: start it again from the Lab screen.")
	}
	return Render(c, http.StatusOK, views.LabRunPanel(h.labRun(run, h.labTitles())))
}

// noLabMessage says how to start sessionscope with the lab.
const noLabMessage = "The training lab is not running in this sessionscope. Start it with sessionscope alone (no arguments: the dashboard and the lab on an embedded store), or with sessionscope serve --redis URL --lab to keep the lab's sessions in a Redis."

// labPage renders the Lab screen with msg (a busy or unknown-scenario line) above
// the run panel.
func (h *Handlers) labPage(c echo.Context, status int, msg, runID string) error {
	return h.labPageWith(c, status, msg, runID, nil)
}

// labPageWith is labPage with a Run all summary on top.
func (h *Handlers) labPageWith(c echo.Context, status int, msg, runID string, batch *views.LabBatch) error {
	vm := views.LabPage{Layout: h.Layout("Lab", "lab"), Message: msg, Batch: batch}
	if h.d.Lab == nil {
		vm.NoLab = noLabMessage
		return Render(c, status, views.LabView(vm))
	}
	vm.LabURL = h.d.Lab.URL()
	_, vm.CanClear = h.d.Lab.(LabRunsClearer)
	if lb, ok := h.d.Lab.(LabBatches); ok {
		vm.CanRunAll = true
		if b, ok := lb.CurrentBatch(); ok {
			vm.RunningBatch = labBatchURL(b.ID)
		}
	}
	scenarios := h.d.Lab.Scenarios()
	titles := make(map[string]string, len(scenarios))
	for _, s := range scenarios {
		titles[s.ID] = s.Title
		vm.Scenarios = append(vm.Scenarios, h.labScenario(s, vm.LabURL))
	}
	var run lab.Run
	var ok bool
	if runID != "" {
		if run, ok = h.d.Lab.Get(runID); !ok && vm.Message == "" {
			vm.Message = fmt.Sprintf("Lab run %q is not kept any more: start it again below.", truncate(runID, 40))
		}
	}
	if !ok {
		run, ok = h.d.Lab.Current()
	}
	if !ok {
		run, ok = latestRun(h.d.Lab, scenarios)
	}
	if ok {
		r := h.labRun(run, titles)
		vm.Run = &r
	}
	return Render(c, status, views.LabView(vm))
}

// latestRun is the most recently started finished run, so that the panel still
// shows the last result when the Lab screen is opened afresh.
func latestRun(l Lab, scenarios []lab.Scenario) (lab.Run, bool) {
	var latest lab.Run
	found := false
	for _, s := range scenarios {
		for _, fixed := range []bool{false, true} {
			if r, ok := l.Last(s.ID, fixed); ok && (!found || r.Started.After(latest.Started)) {
				latest, found = r, true
			}
		}
	}
	return latest, found
}

func (h *Handlers) labTitles() map[string]string {
	titles := map[string]string{}
	for _, s := range h.d.Lab.Scenarios() {
		titles[s.ID] = s.Title
	}
	return titles
}

// labScenario is one scenario's card: what it shows, its last runs and the check
// mark, earned when the broken run yielded its findings and the fixed twin ran clean.
func (h *Handlers) labScenario(s lab.Scenario, labURL string) views.LabScenario {
	v := views.LabScenario{ID: s.ID, Title: s.Title, Symptom: s.Symptom, Story: s.Story, Principle: s.Principle,
		Events: s.Events, Fix: s.Fix, NeedsRedis: s.NeedsRedis, TrySteps: s.Try.Steps}
	for _, rule := range s.Expected {
		v.Expected = append(v.Expected, views.Link{Text: rule, URL: withQuery("/findings", url.Values{"rule": {rule}})})
	}
	if s.Try.Path != "" && labURL != "" {
		v.TryURL = strings.TrimSuffix(labURL, "/") + "/" + strings.TrimPrefix(s.Try.Path, "/")
		// The lab's /lab/use takes fixed=1 for the twin; the healthy baseline has none.
		if len(s.Expected) > 0 {
			sep := "?"
			if strings.Contains(v.TryURL, "?") {
				sep = "&"
			}
			v.TryFixedURL = v.TryURL + sep + "fixed=1"
		}
	}
	broken, bok := h.d.Lab.Last(s.ID, false)
	fixed, fok := h.d.Lab.Last(s.ID, true)
	if bok {
		v.Broken = views.Link{Text: broken.State, URL: labRunURL(broken.ID)}
	}
	if fok {
		v.Fixed = views.Link{Text: fixed.State, URL: labRunURL(fixed.ID)}
	}
	v.Checked = bok && fok && broken.State == lab.RunPassed && fixed.State == lab.RunPassed
	return v
}

// labRun is the run panel: its state, the virtual browser's steps, the findings that
// appeared, and links into the screens that show what it produced.
func (h *Handlers) labRun(r lab.Run, titles map[string]string) views.LabRun {
	v := views.LabRun{ID: r.ID, Scenario: r.Scenario, Title: titles[r.Scenario], Fixed: r.Fixed, State: r.State,
		Running: r.State == lab.RunRunning, Started: stamp(r.Started), Ended: stamp(r.Ended),
		Missing: r.Missing, Unexpected: r.Unexpected, Err: r.Err, PollURL: labRunPanelURL(r.ID),
		Exchanges: len(r.Exchanges), Events: len(r.Events)}
	for _, s := range r.Steps {
		st := views.LabStep{Time: clock(s.Time), Actor: s.Actor, Text: s.Text}
		if s.Exchange != "" {
			st.ExchangeURL = exchangeURL(s.Exchange)
		}
		v.Steps = append(v.Steps, st)
	}
	for _, f := range r.Findings {
		v.Findings = append(v.Findings, findingView(f))
	}
	v.Summary = labSummary(r)
	v.Links = append(v.Links, views.Link{Text: "Live", URL: "/"})
	// The virtual browser is one client (address and User-Agent): its requests and
	// flow are what this run sent, as far as those screens filter.
	requests, flow := "/requests", "/flow"
	if len(r.Exchanges) > 0 {
		if x, err := h.d.Src.Exchange(r.Exchanges[0]); err == nil && x != nil {
			q := filterValues(clientFilter(x.Client))
			requests, flow = withQuery(requests, q), withQuery(flow, q)
		}
	}
	v.Links = append(v.Links, views.Link{Text: "Requests", URL: requests}, views.Link{Text: "Flow", URL: flow})
	rules := map[string]bool{}
	for _, f := range r.Findings {
		if !rules[f.Rule] {
			rules[f.Rule] = true
			v.Links = append(v.Links, views.Link{Text: "Findings: " + f.Rule, URL: withQuery("/findings", url.Values{"rule": {f.Rule}})})
		}
	}
	if len(rules) == 0 {
		v.Links = append(v.Links, views.Link{Text: "Findings", URL: "/findings"})
	}
	return v
}

// labSummary says in one line how the run went against what the scenario expects.
func labSummary(r lab.Run) string {
	variant := "the broken scenario"
	if r.Fixed {
		variant = "the fixed twin"
	}
	switch r.State {
	case lab.RunRunning:
		return "Running " + variant + "…"
	case lab.RunPassed:
		if r.Fixed {
			return "Passed: the fixed twin ran clean."
		}
		return "Passed: exactly the expected findings appeared."
	case lab.RunError:
		return "The run could not be carried out: " + r.Err
	}
	var parts []string
	if len(r.Missing) > 0 {
		parts = append(parts, "missing "+strings.Join(r.Missing, ", "))
	}
	if len(r.Unexpected) > 0 {
		parts = append(parts, "unexpected "+strings.Join(r.Unexpected, ", "))
	}
	if len(parts) == 0 {
		return "Failed."
	}
	return "Failed: " + strings.Join(parts, "; ") + "."
}

// LabRunAll is POST /lab/run-all: it starts every scenario in a row, broken then
// fixed, and answers 303 to the batch's summary page, so a reload does not start
// another. While a run goes it answers 409 with the Lab screen and the busy line.
// With Accept: application/json it answers 202 and the batch.
func (h *Handlers) LabRunAll(c echo.Context) error {
	wantJSON := wantsJSON(c)
	fail := h.labFailure(c, wantJSON)
	if h.d.Lab == nil {
		return fail(http.StatusNotFound, noLabMessage)
	}
	lb, ok := h.d.Lab.(LabBatches)
	if !ok {
		return fail(http.StatusNotImplemented, "This lab cannot run every scenario in a row: run them one by one below.")
	}
	b, err := lb.StartAll()
	switch {
	case errors.Is(err, lab.ErrBusy):
		return fail(http.StatusConflict, lab.ErrBusy.Error())
	case err != nil:
		return fmt.Errorf("lab: run all: %w", err)
	}
	h.d.Logger.Info("lab run all started", "batch", b.ID, "scenarios", len(b.Items))
	if wantJSON {
		return c.JSON(http.StatusAccepted, b)
	}
	return c.Redirect(http.StatusSeeOther, labBatchURL(b.ID))
}

// labBatchRefresh is how often the summary page reloads itself while its batch runs.
const labBatchRefresh = "2"

// LabBatchShow is GET /lab/all/:id: the Lab screen with the Run all summary on top,
// which reloads itself (a Refresh header, no script) until the batch ends.
func (h *Handlers) LabBatchShow(c echo.Context) error {
	lb, ok := h.d.Lab.(LabBatches)
	if h.d.Lab == nil || !ok {
		return echo.NewHTTPError(http.StatusNotFound, noLabMessage)
	}
	b, ok := lb.Batch(c.Param("id"))
	if !ok {
		return h.ErrorPage(c, http.StatusNotFound, "Run all not kept",
			"This Run all is not kept any more (cleared, or too old): start it again from the Lab screen.",
			views.Link{Text: "Go to Lab", URL: "/lab"})
	}
	if wantsJSON(c) {
		return c.JSON(http.StatusOK, b)
	}
	vb := h.labBatch(b)
	if vb.Running {
		c.Response().Header().Set("Refresh", labBatchRefresh)
	}
	return h.labPageWith(c, http.StatusOK, "", "", &vb)
}

// labBatch is the summary's view model.
func (h *Handlers) labBatch(b lab.Batch) views.LabBatch {
	titles := h.labTitles()
	v := views.LabBatch{ID: b.ID, State: b.State, Running: b.State == lab.RunRunning, Started: stamp(b.Started), Ended: stamp(b.Ended)}
	for _, it := range b.Items {
		item := views.LabBatchItem{ID: it.Scenario, Title: titles[it.Scenario], Skipped: it.Skipped,
			Broken: batchRunLink(it.Broken), Fixed: batchRunLink(it.Fixed)}
		item.Verdict = batchVerdict(it)
		switch item.Verdict {
		case "skipped":
			v.Skipped++
		case lab.RunPassed:
			v.Passed++
		case lab.RunFailed:
			v.Failed++
		}
		v.Items = append(v.Items, item)
	}
	v.Summary = fmt.Sprintf("%d passed, %d failed", v.Passed, v.Failed)
	if v.Skipped > 0 {
		v.Summary += fmt.Sprintf(", %d skipped (they need --redis)", v.Skipped)
	}
	if v.Running {
		v.Summary += " so far: this page reloads until every scenario has run."
	} else {
		v.Summary += "."
	}
	return v
}

// batchVerdict is a summary line's outcome: skipped, waiting, running, passed (both
// runs passed) or failed (a run failed or could not be carried out).
func batchVerdict(it lab.BatchItem) string {
	switch {
	case it.Skipped != "":
		return "skipped"
	case it.Passed():
		return lab.RunPassed
	}
	for _, r := range []lab.BatchRun{it.Broken, it.Fixed} {
		if r.State == lab.RunFailed || r.State == lab.RunError {
			return lab.RunFailed
		}
	}
	if it.Broken.State == "" {
		return "waiting"
	}
	return lab.RunRunning
}

// batchRunLink is one run of a summary line: its state, linking to the run.
func batchRunLink(r lab.BatchRun) views.Link {
	switch {
	case r.RunID == "" && r.State == "":
		return views.Link{Text: "waiting"}
	case r.RunID == "":
		return views.Link{Text: r.State}
	}
	return views.Link{Text: r.State, URL: labRunURL(r.RunID)}
}

// LabEnv's lab runs every scenario in a row and clears its runs.
var (
	_ LabBatches     = labEnv{}
	_ LabRunsClearer = labEnv{}
)

// labFailure answers a Lab POST that cannot go ahead: a JSON error for the API, else
// the Lab screen with the message.
func (h *Handlers) labFailure(c echo.Context, wantJSON bool) func(status int, msg string) error {
	return func(status int, msg string) error {
		if wantJSON {
			return jsonError(c, status, msg)
		}
		return h.labPage(c, status, msg, "")
	}
}
