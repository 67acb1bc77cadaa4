package ui_test

// Real-browser tests of the Findings, Sessions and Status screens updating live, and
// of the links from a finding to its sessions and flow.

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// openLive opens path and waits until its live socket is open, with a marker in the
// document that a reload would wipe out.
func openLive(t *testing.T, b *browsertest.Browser, d *dashboard, path, testID string) {
	t.Helper()
	if resp := b.Navigate(d.base + path); resp.Status != http.StatusOK {
		t.Fatalf("GET %s = %d", path, resp.Status)
	}
	b.WaitTestID(testID)
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	browsertest.Eval[int](b, `window.__sameDocument = 1`)
}

func sameDocument(t *testing.T, b *browsertest.Browser, what string) {
	t.Helper()
	if browsertest.Eval[int](b, `window.__sameDocument || 0`) != 1 {
		t.Fatalf("the page reloaded: %s must arrive over the websocket", what)
	}
}

func findingSel(rule string) string { return `[data-testid="finding"][data-rule="` + rule + `"]` }

// waitFinding waits until the inspector holds a finding of rule with at least count
// occurrences and returns it.
func waitFinding(t *testing.T, env *uitest.Env, rule string, count int) model.Finding {
	t.Helper()
	var found model.Finding
	uitest.WaitFor(t, "a "+rule+" finding", func() bool {
		for _, f := range env.In.Findings() {
			if f.Rule == rule && f.Count >= count {
				found = f
				return true
			}
		}
		return false
	})
	return found
}

// TestBrowserFindingsLive: an open Findings screen shows the first finding without a
// reload, updates a finding that fires again in place (count and group), announces a
// new finding as "1 new — show" instead of moving the list, and shows it on "show";
// the finding's links lead to its session and its flow; the severity chips filter.
func TestBrowserFindingsLive(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)
	ctx := context.Background()

	openLive(t, b, d, "/findings", "findings")
	if txt := b.TextByTestID("empty-state"); !strings.Contains(txt, "No findings yet") {
		t.Fatalf("empty state %q", txt)
	}

	// Session keys without a TTL: one finding, whatever the number of keys.
	first := sid(32)
	if err := env.RDB.Set(ctx, "sess:"+first, expressSession(nil), 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFinding(t, env, "no-server-expiry", 1)
	b.WaitReady(findingSel("no-server-expiry"))
	sameDocument(t, b, "the first finding")

	if err := env.RDB.Set(ctx, "sess:"+sid(32), expressSession(nil), 0).Err(); err != nil {
		t.Fatal(err)
	}
	again := waitFinding(t, env, "no-server-expiry", 2)
	b.WaitJS("the finding's count to update in place",
		`(document.querySelector('`+findingSel("no-server-expiry")+` [data-testid="finding-seen"]') || {}).textContent.indexOf("×`+strconv.Itoa(again.Count)+` ") === 0`)
	b.WaitJS("the group's count to update",
		`/`+strconv.Itoa(again.Count)+` occurrence/.test(document.getElementById("group-no-server-expiry").textContent)`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('`+findingSel("no-server-expiry")+`').length`); n != 1 {
		t.Errorf("%d no-server-expiry findings on the page, want the one updated in place", n)
	}
	if !browsertest.Eval[bool](b, `document.getElementById("findings-new").hidden`) {
		t.Error(`a finding updated in place was announced as new`)
	}

	// A login that keeps its session id: a new finding, announced, not inserted.
	fixID := sid(26)
	fixRef := model.Ref(fixID)
	if err := redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+fixID, phpSession("csrf_token", sid(40)), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	env.WaitEvent(t, model.KindCreated, fixRef)
	if err := redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+fixID, phpSession("csrf_token", sid(40), "user_id", 7), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	fix := waitFinding(t, env, "fixation", 1)
	b.WaitVisible(`[data-testid="findings-new"]`)
	if txt := b.TextByTestID("findings-new"); txt != "1 new — show" {
		t.Errorf("new bar %q, want \"1 new — show\"", txt)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('#findings-list `+findingSel("fixation")+`').length`); n != 0 {
		t.Errorf("the new finding was inserted under the reader's eyes (%d)", n)
	}
	b.Do(chromedp.Click(browsertest.TestID("findings-show")))
	b.WaitReady(`#findings-list ` + findingSel("fixation"))
	b.WaitJS("the new bar to hide", `document.getElementById("findings-new").hidden`)
	sameDocument(t, b, "show")
	if id := browsertest.Eval[string](b, `document.querySelector('`+findingSel("fixation")+`').id`); id != fix.ID {
		t.Errorf("the finding's anchor is %q, want its id %q", id, fix.ID)
	}

	// Its links lead where they say.
	if resp := b.Load(chromedp.Click(findingSel("fixation") + ` [data-testid="finding-session"]`)); resp.Status != http.StatusOK {
		t.Fatalf("the session link ended on %d", resp.Status)
	}
	b.WaitReady(`[data-testid="session-detail"][data-ref="` + fixRef + `"]`)
	openLive(t, b, d, "/findings", "findings")
	if resp := b.Load(chromedp.Click(findingSel("fixation") + ` [data-testid="finding-flow"]`)); resp.Status != http.StatusOK {
		t.Fatalf("the flow link ended on %d", resp.Status)
	}
	b.WaitReady(`[data-testid="flow-page"][data-session="` + fixRef + `"]`)

	// The severity chips filter on the server.
	openLive(t, b, d, "/findings", "findings")
	if resp := b.Load(chromedp.Click(`[data-testid="severity-filter"][href="/findings?severity=` + string(fix.Severity) + `"]`)); resp.Status != http.StatusOK {
		t.Fatalf("the severity filter ended on %d", resp.Status)
	}
	b.WaitReady(findingSel("fixation"))
	if n := browsertest.Eval[int](b, `document.querySelectorAll('`+findingSel("no-server-expiry")+`').length`); n != 0 && fix.Severity != again.Severity {
		t.Errorf("a %s finding is listed under severity=%s", again.Severity, fix.Severity)
	}
}

// TestBrowserSessionsLive: an open Sessions screen counts sessions as they come, shows
// the first without a reload, announces the next as "1 new — show" rather than moving
// rows, and updates a row it shows in place.
func TestBrowserSessionsLive(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)
	ctx := context.Background()

	openLive(t, b, d, "/sessions", "sessions")
	firstID := sid(26)
	firstRef := model.Ref(firstID)
	if err := redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+firstID, phpSession("csrf_token", sid(40)), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	b.WaitReady(`#sessions-body [data-testid="session-row"][data-ref="` + firstRef + `"]`)
	b.WaitJS("the count", `document.getElementById("sessions-total").textContent === "1"`)
	sameDocument(t, b, "the first session")

	secondID := sid(26)
	secondRef := model.Ref(secondID)
	if err := redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+secondID, phpSession("csrf_token", sid(40)), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	b.WaitJS("the count", `document.getElementById("sessions-total").textContent === "2" && document.getElementById("sessions-matched").textContent === "2"`)
	b.WaitVisible(`[data-testid="sessions-new"]`)
	if txt := b.TextByTestID("sessions-new"); txt != "1 new — show" {
		t.Errorf("new bar %q, want \"1 new — show\"", txt)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('#sessions-body [data-testid="session-row"]').length`); n != 1 {
		t.Errorf("%d rows: the new session moved the rows under the reader's eyes", n)
	}

	// A login writes the first session: its row says so in place.
	if err := redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+firstID, phpSession("csrf_token", sid(40), "user_id", 42), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	env.WaitEvent(t, model.KindUpdated, firstRef)
	b.WaitReady(`#sessions-body [data-testid="session-row"][data-ref="` + firstRef + `"] .tag-auth`)

	b.Do(chromedp.Click(browsertest.TestID("sessions-show")))
	b.WaitReady(`#sessions-body [data-testid="session-row"][data-ref="` + secondRef + `"]`)
	b.WaitJS("the new bar to hide", `document.getElementById("sessions-new").hidden`)
	sameDocument(t, b, "show")
}

// TestBrowserStatusLive: an open Status screen follows the session count without a
// reload; it shows the keyspace notifications of Redis, and its text is not styled as
// an HTTP status code.
func TestBrowserStatusLive(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	openLive(t, b, d, "/status", "status")
	// The cards are replaced as the socket pushes them: read them in one evaluation.
	if got := browsertest.Eval[string](b, `document.querySelector('[data-testid="tracked-sessions"]').textContent`); got != "0" {
		t.Fatalf("tracked sessions %q before any session", got)
	}
	if !browsertest.Eval[bool](b, `!!document.querySelector('[data-testid="notifications"]')`) {
		t.Error("no keyspace notifications panel for Redis")
	}
	if w := browsertest.Eval[string](b, `getComputedStyle(document.querySelector('[data-testid="status"] dd')).fontWeight`); w != "400" {
		t.Errorf("the Status screen's text has font weight %s, want normal (400)", w)
	}
	id := sid(26)
	if err := redistest.SetEx(context.Background(), env.RDB, "PHPREDIS_SESSION:"+id, phpSession("csrf_token", sid(40)), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	b.WaitJS("the tracked sessions to count it", `document.querySelector('[data-testid="tracked-sessions"]').textContent === "1"`)
	sameDocument(t, b, "the count")
}
