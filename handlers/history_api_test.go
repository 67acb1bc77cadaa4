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

func (s historySource) HistoryPage(ctx context.Context, q history.Query) (history.Page, error) {
	return s.st.QueryPage(ctx, q)
}

func (s historySource) SessionEvents(ctx context.Context, ref string) []*model.Event {
	events, _, _ := s.SessionTimeline(ctx, ref)
	return events
}

func (s historySource) SessionTimeline(ctx context.Context, ref string) ([]*model.Event, bool, error) {
	objs, err := s.st.Query(ctx, history.Query{Ref: ref, Types: []string{model.TypeEvent}})
	var out []*model.Event
	for _, o := range objs {
		out = append(out, o.(*model.Event))
	}
	return out, false, err
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
		{"/api/events?to=2pm", "to must be a time"},
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

// TestAPIHistoryPagesByRow: with from, /api/events pages on with after_row, exactly:
// events that share a time across a page boundary come once each and one written
// late with an earlier time is not skipped. `after`, a seq of the objects in memory,
// is refused rather than ignored. from and to take what the Live screen takes.
func TestAPIHistoryPagesByRow(t *testing.T) {
	from := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	var objs []model.Object
	var want []string
	add := func(e *model.Event) { objs, want = append(objs, e), append(want, e.Session.Ref) }
	objs = append(objs, pastEvent("apibefore", from.Add(-time.Second)))
	add(pastEvent("api0", from))
	add(pastEvent("api1", from.Add(time.Second)))
	add(pastEvent("api2", from.Add(2*time.Second))) // pages of 3: the last of page 1 ...
	add(pastEvent("api3", from.Add(2*time.Second))) // ... and the first of page 2, at one time
	add(pastEvent("apilate", from.Add(500*time.Millisecond)))
	add(pastEvent("api5", from.Add(3*time.Second)))
	add(pastEvent("api6", from.Add(4*time.Second)))
	app := newApp(t, historySource{newFakeSource(), recordHistory(t, objs...)}, false)

	type page struct {
		Objects  []map[string]any `json:"objects"`
		AfterRow int64            `json:"after_row"`
	}
	refsOf := func(p page) []string {
		var out []string
		for _, o := range p.Objects {
			out = append(out, o["session"].(map[string]any)["ref"].(string))
		}
		return out
	}
	// from as a time of day, as the Live form sends it: the latest such time past.
	fromParam := from.Local().Format("15:04")
	var got []string
	target := "/api/events?limit=3&from=" + url.QueryEscape(fromParam)
	for pages := 0; ; pages++ {
		if pages == 4 {
			t.Fatalf("more than 3 pages of 3 for %d events", len(want))
		}
		var p page
		getJSON(t, app, target, 200, &p)
		got = append(got, refsOf(p)...)
		if p.AfterRow == 0 {
			break
		}
		target = fmt.Sprintf("/api/events?limit=3&from=%s&after_row=%d", url.QueryEscape(fromParam), p.AfterRow)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pages of 3 from %s: %v\nwant each event from then once, in the order written: %v", fromParam, got, want)
	}

	var p page
	getJSON(t, app, "/api/events?to="+url.QueryEscape(from.Add(time.Second).Local().Format("2006-01-02T15:04:05")), 200, &p)
	if got := refsOf(p); len(got) != 4 || got[0] != pastEvent("apibefore", from).Session.Ref {
		t.Errorf("to as a local date and time (datetime-local): %v; want the 4 events up to from+1s (apilate included)", got)
	}
	status, body := get(t, app, "/api/events?after=5&from="+url.QueryEscape(fromParam))
	if status != 400 || !strings.Contains(string(body), "after_row") {
		t.Errorf("after with from: %d %s; want 400 saying to use after_row", status, body)
	}
	status, body = get(t, app, "/api/events?after_row=x")
	if status != 400 || !strings.Contains(string(body), "after_row must be") {
		t.Errorf("after_row=x: %d %s; want 400 saying what after_row takes", status, body)
	}
}

// TestAPIExchangesFromHistoryFilters: with from, /api/exchanges applies every filter
// it applies in memory (client, ua, status, finding, session), a finding known only
// to the history included, pages with after_row, and refuses har and before, which
// do not apply to the history, saying what to do instead.
func TestAPIExchangesFromHistoryFilters(t *testing.T) {
	base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	sess := model.Ref("histxsession000000000000aa")
	x := func(n int, addr, ua string, status int, ref string) *model.Exchange {
		at := base.Add(time.Duration(n) * time.Second)
		return &model.Exchange{Type: model.TypeExchange, ID: fmt.Sprintf("prun1-%d", n), Start: at, HeadersSent: at, End: at,
			Method: "GET", URL: "http://app.test/", Status: status, Client: model.Client{Addr: addr, UA: ua},
			Source: model.SourceProxy, SessionRef: ref, CookiesSent: []model.SentCookie{}, SetCookies: []model.SetCookie{}}
	}
	const firefox, curl = "Mozilla/5.0 Firefox/133.0", "curl/8.5.0"
	const findingID = "login-loop-0badcafe"
	finding := func(at time.Time, exchanges ...string) *model.Finding {
		return &model.Finding{Type: model.TypeFinding, ID: findingID, Rule: "login-loop", Severity: model.SeverityError, Time: at, Exchanges: exchanges}
	}
	st := recordHistory(t,
		x(1, "10.0.0.1:5000", firefox, 200, sess),
		x(2, "10.0.0.2:5001", curl, 302, ""),
		finding(base.Add(2*time.Second), "prun1-3"),
		x(3, "10.0.0.1:5002", firefox, 500, ""),
		x(4, "10.0.0.3:5003", curl, 200, ""),
		finding(base.Add(5*time.Second), "prun1-2"), // the same finding updated: its sample moved on
	)
	src := newFakeSource()
	src.findings = []model.Finding{{Type: model.TypeFinding, ID: "cookie-flags-12345678", Rule: "cookie-flags", Severity: model.SeverityWarning, Exchanges: []string{"prun1-4"}}}
	app := newApp(t, historySource{src, st}, false)
	app.GET("/api/exchanges", handlers.New(handlers.Deps{Src: historySource{src, st}}).APIExchanges)
	from := "&from=" + url.QueryEscape(base.Format(time.RFC3339))

	type page struct {
		Exchanges []model.Exchange `json:"exchanges"`
		AfterRow  int64            `json:"after_row"`
	}
	for _, tc := range []struct{ query, want string }{
		{"", "1 2 3 4"},
		{"client=10.0.0.1", "1 3"},
		{"ua=" + url.QueryEscape(curl), "2 4"},
		{"status=5xx", "3"},
		{"status=2xx&client=10.0.0.3", "4"},
		{"session=" + sess, "1"},
		{"finding=" + findingID, "2 3"},               // every version the history recorded
		{"finding=cookie-flags-12345678", "4"},        // a finding in memory
		{"finding=" + findingID + "&status=3xx", "2"}, // with another filter
	} {
		t.Run(tc.query, func(t *testing.T) {
			var p page
			getJSON(t, app, "/api/exchanges?"+tc.query+from, 200, &p)
			var got []string
			for _, x := range p.Exchanges {
				got = append(got, strings.TrimPrefix(x.ID, "prun1-"))
			}
			if strings.Join(got, " ") != tc.want || p.AfterRow != 0 {
				t.Errorf("exchanges %s from the history: %v (after_row %d); want %s and no next page", tc.query, got, p.AfterRow, tc.want)
			}
		})
	}

	var p1, p2 page
	getJSON(t, app, "/api/exchanges?client=10.0.0.1&limit=1"+from, 200, &p1)
	if len(p1.Exchanges) != 1 || p1.Exchanges[0].ID != "prun1-1" || p1.AfterRow == 0 {
		t.Fatalf("limit=1: %+v; want exchange 1 and after_row", p1)
	}
	getJSON(t, app, fmt.Sprintf("/api/exchanges?client=10.0.0.1&limit=1&after_row=%d%s", p1.AfterRow, from), 200, &p2)
	if len(p2.Exchanges) != 1 || p2.Exchanges[0].ID != "prun1-3" || p2.AfterRow != 0 {
		t.Errorf("the page after_row=%d: %+v; want exchange 3 and no next page", p1.AfterRow, p2)
	}

	for _, tc := range []struct{ query, want string }{
		{"har=h12345678", "drop from"},
		{"before=3", "after_row"},
		{"finding=login-loop-00000000", "no finding has this id"},
	} {
		status, body := get(t, app, "/api/exchanges?"+tc.query+from)
		if status != 400 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s with from: %d %s; want 400 saying %q", tc.query, status, body, tc.want)
		}
	}
}

// TestAPIFindingsFromHistoryOnce: a finding recorded again at each update is served
// once from the history, as last recorded, filtered by severity.
func TestAPIFindingsFromHistoryOnce(t *testing.T) {
	base := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	f := func(id, rule string, sev model.Severity, count int) *model.Finding {
		return &model.Finding{Type: model.TypeFinding, ID: id, Rule: rule, Severity: sev, Time: base.Add(time.Duration(count) * time.Second), Count: count}
	}
	app := newApp(t, historySource{newFakeSource(), recordHistory(t,
		f("login-loop-00000001", "login-loop", model.SeverityError, 1),
		f("cookie-flags-00000002", "cookie-flags", model.SeverityWarning, 2),
		f("login-loop-00000001", "login-loop", model.SeverityError, 3),
	)}, false)
	from := "from=" + url.QueryEscape(base.Format(time.RFC3339))
	var fs struct {
		Findings []model.Finding `json:"findings"`
	}
	getJSON(t, app, "/api/findings?"+from, 200, &fs)
	if len(fs.Findings) != 2 || fs.Findings[0].ID != "cookie-flags-00000002" || fs.Findings[1].Count != 3 {
		t.Errorf("findings from the history: %+v; want each once, as last recorded", fs.Findings)
	}
	getJSON(t, app, "/api/findings?severity=error&"+from, 200, &fs)
	if len(fs.Findings) != 1 || fs.Findings[0].Rule != "login-loop" {
		t.Errorf("severity=error from the history: %+v", fs.Findings)
	}
}
