package ui

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestBrowserLiveFromHistory: in real Chromium, "Show from" moves the Live screen back
// to a time of day: the events the history holds from then, oldest first, under a
// banner, in pages that "later →" walks each event once; "back to live" returns to
// the live page and its socket.
func TestBrowserLiveFromHistory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	// A previous run recorded 510 events an hour ago, ten to a second so that the page
	// boundary falls among events of one time; this run's ring knows none of them.
	const recorded = 510
	from := time.Now().Add(-time.Hour).Truncate(time.Minute)
	prev, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := range recorded {
		id := fmt.Sprintf("browserpast%015d", i)
		prev.Append(&model.Event{Type: model.TypeEvent, Time: from.Add(time.Duration((i+5)/10+1) * time.Second), Kind: model.KindCreated,
			Backend: "redis", Session: &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php"}})
	}
	if err := prev.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	in := inspector.New(memory.New(memory.Options{}), inspector.Config{History: st})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	s := startServer(t, Config{}, in)

	b := browsertest.New(t)
	if resp := b.Navigate(s.base + "/"); resp.Status != http.StatusOK {
		t.Fatalf("GET / = %d", resp.Status)
	}
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	browsertest.Eval[string](b, `document.querySelector('[data-testid="show-from-time"]').value = "`+from.Local().Format("15:04")+`"`)
	b.Load(chromedp.Click(browsertest.TestID("show-from-go")))
	b.WaitTestID("past-banner")
	if got := b.TextByTestID("past-banner"); !strings.Contains(got, "Showing history from "+from.Local().Format("15:04")) {
		t.Errorf("banner %q", got)
	}
	rowsJS := `Array.from(document.querySelectorAll('[data-testid="feed-row"]'), r => r.dataset.kind + ":" + r.dataset.ref)`
	refs := browsertest.Eval[[]string](b, rowsJS)
	if len(refs) != 500 {
		t.Fatalf("first page: %d rows, want 500", len(refs))
	}
	firstURL := browsertest.Eval[string](b, `location.href`)
	b.Load(chromedp.Click(browsertest.TestID("past-next")))
	b.WaitJS("the second page", `location.href !== `+strconv.Quote(firstURL))
	if got := b.TextByTestID("past-banner"); !strings.Contains(got, "Showing history from "+from.Local().Format("15:04")) {
		t.Errorf("second page banner %q; want the time asked for", got)
	}
	page2 := browsertest.Eval[[]string](b, rowsJS)
	if browsertest.Eval[bool](b, `document.querySelector('[data-testid="past-next"]') !== null`) {
		t.Errorf("the last page (%d rows) has a later → link", len(page2))
	}
	refs = append(refs, page2...)
	var created []string
	for _, r := range refs {
		if k, ref, _ := strings.Cut(r, ":"); k == string(model.KindCreated) {
			created = append(created, ref)
		}
	}
	if len(created) != recorded {
		t.Fatalf("two pages show %d created rows, want the %d events of the previous run", len(created), recorded)
	}
	for i, ref := range created {
		if want := model.Ref(fmt.Sprintf("browserpast%015d", i)); ref != want {
			t.Fatalf("created row %d is %s, want %s: each event once, oldest first", i, ref, want)
		}
	}
	// The time sessionscope was away is a history gap, shown as a row of its own.
	if !strings.Contains(strings.Join(page2, " "), "gap:") {
		t.Errorf("rows %v: want the history gap of the time sessionscope was not running", page2)
	}
	if browsertest.Eval[bool](b, `document.querySelector('[data-testid="conn-indicator"]') !== null`) {
		t.Error("the page moved back in time connects the live socket")
	}

	b.Load(chromedp.Click(browsertest.TestID("back-to-live")))
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	b.WaitJS("the live page without the banner", `location.search === "" && document.querySelector('[data-testid="past-banner"]') === null`)
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %q", ex)
	}
}
