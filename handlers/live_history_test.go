package handlers_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// TestLiveFromHistory: /?from= moves the Live screen back to a time. It shows the
// history from then, oldest first, in pages of 500 with the same rows as live
// (history gaps included), a banner back to live, and no live socket.
func TestLiveFromHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	w, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	src := newFakeSource()
	src.hub = stream.NewBroadcasterWithRing(4)
	base := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	const n = 505
	for i := range n {
		id := fmt.Sprintf("livepast%018d", i)
		ev := &model.Event{Type: model.TypeEvent, Time: base.Add(time.Duration(i) * time.Second), Kind: model.KindCreated,
			Backend: "redis", Session: &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php"}}
		src.hub.Publish(ev)
		w.Append(ev)
		if i == 2 { // the history lost what came next: written in time order, as the writer does
			gapFrom, gapTo := ev.Time.Add(500*time.Millisecond), ev.Time.Add(time.Second)
			w.Append(&model.Event{Type: model.TypeEvent, Time: gapFrom, Kind: model.KindGap, Backend: history.BackendHistory,
				FromTime: &gapFrom, ToTime: &gapTo, Dropped: 7, Reason: "queue full"})
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := history.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := newApp(t, historySource{src, st}, false)

	live := getPage(t, app, "/", 200)
	if !live.Has("show-from") || live.Has("past-banner") || !live.Has("conn-indicator") {
		t.Errorf("live with a history: want the Show from form, no banner, and the live socket")
	}

	doc := getPage(t, app, "/?from="+url.QueryEscape(base.Add(time.Second).Format(time.RFC3339)), 200)
	if got := uitest.Text(doc.One("past-banner")); !strings.Contains(got, "Showing history from") || !strings.Contains(got, "back to live") {
		t.Errorf("banner: %q", got)
	}
	if href, _ := uitest.Attr(doc.One("back-to-live"), "href"); href != "/" {
		t.Errorf("back to live links to %q, want /", href)
	}
	if doc.Has("conn-indicator") {
		t.Error("the page moved back in time connects the live socket; live rows would mix in")
	}
	rows := doc.ByTestID("feed-row")
	if len(rows) != 500 {
		t.Fatalf("first page: %d rows, want 500", len(rows))
	}
	kinds := make([]string, 4)
	for i := range kinds {
		kinds[i], _ = uitest.Attr(rows[i], "data-kind")
	}
	if got := strings.Join(kinds, " "); got != "created created gap created" {
		t.Errorf("first rows from 14:00:01: %s; want oldest first with the history gap at 14:00:02.5", got)
	}
	if first, _ := uitest.Attr(rows[0], "data-ref"); first != string(model.Ref(fmt.Sprintf("livepast%018d", 1))) {
		t.Errorf("first row is %s, want the event at 14:00:01", first)
	}
	next, ok := uitest.Attr(doc.One("past-next"), "href")
	if !ok {
		t.Fatal("no later → link after a full page")
	}
	page2 := getPage(t, app, next, 200)
	// 504 events and the gap from 14:00:01: 500 shown, 5 left.
	if got := len(page2.ByTestID("feed-row")); got != 5 || page2.Has("past-next") {
		t.Errorf("second page (%s): %d rows, later link %v; want the last 5 and no later link", next, got, page2.Has("past-next"))
	}

	for _, tc := range []struct {
		name, target string
		status       int
		want         string
	}{
		{"bad from", "/?from=yesterday", 400, "from must be a time of day"},
		{"bad clock", "/?from=25:61", 400, "RFC 3339"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, app, tc.target)
			if status != tc.status || !strings.Contains(string(body), tc.want) {
				t.Errorf("GET %s: %d; want %d saying %q; body %s", tc.target, status, tc.status, tc.want, body)
			}
		})
	}

	noHistory := newApp(t, src, false)
	if getPage(t, noHistory, "/", 200).Has("show-from") {
		t.Error("without a history the Show from form is shown; it can only fail")
	}
	status, body := get(t, noHistory, "/?from=14:02")
	if status != 404 || !strings.Contains(string(body), "--history") {
		t.Errorf("from without a history: %d; want 404 saying to restart with --history; body %s", status, body)
	}
}

// recordHistory writes objs to a new history file, in order, and opens it to read.
func recordHistory(t *testing.T, objs ...model.Object) *history.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.db")
	w, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		w.Append(o)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Written != int64(len(objs)) {
		t.Fatalf("the history wrote %d of %d objects", st.Written, len(objs))
	}
	st, err := history.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func pastEvent(name string, at time.Time) *model.Event {
	id := fmt.Sprintf("%-26s", name)
	id = strings.ReplaceAll(id, " ", "0")
	return &model.Event{Type: model.TypeEvent, Time: at, Kind: model.KindCreated, Backend: "redis",
		Session: &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php"}}
}

// TestLivePastPagesByRow: "later →" goes on from the row the page ended on. Events
// that share a time across the page boundary come once each, and one the history
// wrote late with an earlier time still comes, where paging on by time would repeat
// the first and skip the second.
func TestLivePastPagesByRow(t *testing.T) {
	from := time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC)
	var objs []model.Object
	var want []string // refs in the order written, which is the order shown
	add := func(e *model.Event) {
		objs, want = append(objs, e), append(want, e.Session.Ref)
	}
	objs = append(objs, pastEvent("before", from.Add(-time.Minute))) // before from: never shown
	for i := range 499 {
		add(pastEvent(fmt.Sprintf("bypage%d", i), from.Add(time.Duration(i)*time.Millisecond)))
	}
	boundary := from.Add(time.Second)
	add(pastEvent("boundarylast", boundary))  // the last row of page 1 ...
	add(pastEvent("boundaryfirst", boundary)) // ... and the first of page 2, at the same time
	add(pastEvent("late", from.Add(100*time.Millisecond)))
	add(pastEvent("after", boundary.Add(time.Second)))
	app := newApp(t, historySource{newFakeSource(), recordHistory(t, objs...)}, false)

	var got []string
	next := "/?from=" + url.QueryEscape(from.Format(time.RFC3339))
	for pages := 0; next != ""; pages++ {
		if pages == 3 {
			t.Fatalf("more than 2 pages; the last was %s", next)
		}
		doc := getPage(t, app, next, 200)
		for _, r := range doc.ByTestID("feed-row") {
			ref, _ := uitest.Attr(r, "data-ref")
			got = append(got, ref)
		}
		if got := uitest.Text(doc.One("past-banner")); !strings.Contains(got, "Showing history from "+pastLabelUTC(from)) {
			t.Errorf("page %d banner %q; want it to say the time asked for", pages+1, got)
		}
		next = ""
		if doc.Has("past-next") {
			next, _ = uitest.Attr(doc.One("past-next"), "href")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("two pages show %d rows, want %d (each event once); second page starts %v", len(got), len(want), got[min(500, len(got)):])
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("row %d is %s, want %s: events at the page boundary repeated or lost, or the late one skipped; page 2: %v", i, got[i], want[i], got[min(500, len(got)):])
		}
	}

	for _, tc := range []struct{ target, want string }{
		{"/?after=5", "give from too"},
		{"/?from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&after=x", "after must be the history row"},
		{"/?from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&after=-1", "after must be the history row"},
	} {
		status, body := get(t, app, tc.target)
		if status != 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d; want 400 saying %q; body %s", tc.target, status, tc.want, body)
		}
	}
}

// pastLabelUTC is the banner's time for t as the server's zone shows it.
func pastLabelUTC(t time.Time) string {
	now := time.Now()
	t = t.In(now.Location())
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04")
}
