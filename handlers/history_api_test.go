package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
)

// historySource is the fake source with a history file behind it.
type historySource struct {
	*fakeSource
	st *history.Store
}

func (s historySource) History(ctx context.Context, q history.Query) ([]model.Object, error) {
	return s.st.Query(ctx, q)
}

func (s historySource) SessionEvents(ctx context.Context, ref string) []*model.Event {
	objs, _ := s.st.Query(ctx, history.Query{Ref: ref, Types: []string{model.TypeEvent}})
	var out []*model.Event
	for _, o := range objs {
		out = append(out, o.(*model.Event))
	}
	return out
}

// TestAPIFromHistory: with from and to, /api/events, /api/exchanges and /api/findings
// serve what the history recorded, long after the ring let it go.
func TestAPIFromHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	w, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	src := newFakeSource()
	src.hub = stream.NewBroadcasterWithRing(4)
	base := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	for i := range 20 {
		id := fmt.Sprintf("histapi%019d", i)
		ev := &model.Event{Type: model.TypeEvent, Time: base.Add(time.Duration(i) * time.Minute), Kind: model.KindCreated,
			Backend: "redis", Session: &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php"}}
		src.hub.Publish(ev)
		w.Append(ev)
	}
	f := &model.Finding{Type: model.TypeFinding, ID: "f1", Rule: "login-loop", Severity: model.Severity("error"), Time: base.Add(5 * time.Minute)}
	src.hub.Publish(f)
	w.Append(f)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := history.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	app := newApp(t, historySource{src, st}, false)
	from, to := base.Add(5*time.Minute).Format(time.RFC3339), base.Add(9*time.Minute).Format(time.RFC3339)

	var ev struct {
		Objects  []map[string]any `json:"objects"`
		Complete bool             `json:"complete"`
	}
	getJSON(t, app, "/api/events?from="+url.QueryEscape(from)+"&to="+url.QueryEscape(to), 200, &ev)
	var times []string
	for _, o := range ev.Objects {
		if o["type"] == model.TypeEvent {
			times = append(times, o["time"].(string)[11:16])
		}
	}
	if got := strings.Join(times, " "); got != "14:05 14:06 14:07 14:08 14:09" {
		t.Errorf("events from %s to %s: %s; want minutes 5 to 9 from the history", from, to, got)
	}
	getJSON(t, app, fmt.Sprintf("/api/events?from=%d&tail=2", base.Add(10*time.Minute).Unix()), 200, &ev)
	if len(ev.Objects) != 2 || !strings.HasPrefix(ev.Objects[1]["time"].(string), "2026-12-07T14:19") {
		t.Errorf("tail=2 from unix seconds: %v", ev.Objects)
	}
	var fs struct {
		Findings []model.Finding `json:"findings"`
	}
	getJSON(t, app, "/api/findings?from="+url.QueryEscape(from), 200, &fs)
	if len(fs.Findings) != 1 || fs.Findings[0].Rule != "login-loop" {
		t.Errorf("findings from history: %+v", fs.Findings)
	}

	for _, tc := range []struct{ target, want string }{
		{"/api/events?from=yesterday", "from must be a time"},
		{"/api/events?to=14:02", "to must be a time"},
		{"/api/findings?from=" + url.QueryEscape(to) + "&to=" + url.QueryEscape(from), "to must not be before from"},
	} {
		status, body := get(t, app, tc.target)
		if status != 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d %s; want 400 saying %q", tc.target, status, body, tc.want)
		}
	}
	status, body := get(t, newApp(t, src, false), "/api/events?from="+url.QueryEscape(from))
	if status != 404 || !strings.Contains(string(body), "history") {
		t.Errorf("from without a history: %d %s; want 404 saying there is no history", status, body)
	}
	var _ handlers.HistorySource = historySource{}

	// The first session's events left the ring long ago; its page shows them still.
	first := model.Ref(fmt.Sprintf("histapi%019d", 0))
	if doc := getPage(t, app, "/sessions/"+first, 200); !doc.Has("timeline") {
		t.Errorf("the session page of %s has no timeline from the history", first)
	}
}
