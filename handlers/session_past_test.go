package handlers_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/net/html"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// historyRun is one sessionscope run: an Inspector over a real Redis, recording to a
// history file, as `sessionscope serve --redis URL --history FILE` runs it.
type historyRun struct {
	*uitest.Env
	stop func()
}

// startHistoryRun attaches an Inspector with the history file at path ("": none, as
// with --no-history) to srv and
// waits for its inventory. stop ends the run as a quit does: the inspector stops, the
// history writes what it holds and closes, so that the next run can open the file.
func startHistoryRun(t *testing.T, srv *redistest.Server, path string) *historyRun {
	t.Helper()
	var st *history.Store
	if path != "" {
		var err error
		if st, err = history.Open(history.Options{Path: path}); err != nil {
			t.Fatalf("open history: %v", err)
		}
	}
	matcher := framework.NewMatcher(framework.Builtin())
	ctx, cancel := context.WithCancel(context.Background())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: matcher})
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	cfg := inspector.Config{Tracker: tracker.Config{Matcher: matcher}}
	if st != nil {
		cfg.History = st
	}
	in := inspector.New(store, cfg)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	runDone := make(chan error, 1)
	go func() { runDone <- in.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("inspector run: %v", err)
		}
		_ = store.Close()
		_ = rdb.Close()
		if st == nil {
			return
		}
		if err := st.Close(); err != nil {
			t.Errorf("close history: %v", err)
		}
	}
	t.Cleanup(stop)
	env := &uitest.Env{Srv: srv, RDB: rdb, In: in, Matcher: matcher}
	uitest.WaitFor(t, "inventory done", func() bool {
		inv := in.Status().Last.Inventory
		return inv != nil && inv.Done
	})
	return &historyRun{Env: env, stop: stop}
}

// TestSessionPastAcrossRestart: a first run sees sessions born, one regenerated from
// another (old key deleted) and one regenerated with its old key kept, and stops.
// A second run on the same Redis and history file finds them again by its inventory
// only; their pages, their API objects and the Sessions screen still show the birth
// and the lineage the first run saw, and their timelines hold the first run's events
// and the time sessionscope was not running.
func TestSessionPastAcrossRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	path := filepath.Join(t.TempDir(), "history.db")
	const (
		anonKey   = "PHPREDIS_SESSION:pastanon0000000000000000a"
		userKey   = "PHPREDIS_SESSION:pastuser0000000000000000b"
		keptKey   = "PHPREDIS_SESSION:pastkept0000000000000000c"
		keptNew   = "PHPREDIS_SESSION:pastkeptnew0000000000000d"
		idleKey   = "PHPREDIS_SESSION:pastidle0000000000000000e"
		anonState = `csrf|s:3:"abc";`
		userState = `csrf|s:3:"abc";user_id|i:42;`
	)
	anonRef, userRef, keptRef, keptNewRef := uitest.RefOfKey(anonKey), uitest.RefOfKey(userKey), uitest.RefOfKey(keptKey), uitest.RefOfKey(keptNew)

	idleRef := uitest.RefOfKey(idleKey)
	srv.Do(t, "SETEX", idleKey, "1440", anonState) // before any run: only ever found by an inventory

	first := startHistoryRun(t, srv, path)
	first.Do(t, "SETEX", anonKey, 1440, anonState)
	first.WaitEvent(t, model.KindCreated, anonRef)
	// regenerate(true) at a login: the old key deleted, the new one written.
	first.Do(t, "DEL", anonKey)
	first.Do(t, "SETEX", userKey, 1440, userState)
	userBirth := first.WaitEvent(t, model.KindRegenerated, userRef)
	if userBirth.From == nil || userBirth.From.Ref != anonRef {
		t.Fatalf("first run: %s born %+v, want regenerated from %s", userRef, userBirth, anonRef)
	}
	// regenerate(false): the old key written with the login and kept beside the new one.
	first.Do(t, "SETEX", keptKey, 1440, anonState)
	keptBirth := first.WaitEvent(t, model.KindCreated, keptRef)
	first.Do(t, "SETEX", keptKey, 1440, userState)
	first.Do(t, "SETEX", keptNew, 1440, userState)
	if regen := first.WaitEvent(t, model.KindRegenerated, keptNewRef); regen.From == nil || regen.From.Ref != keptRef || !regen.OldKept {
		t.Fatalf("first run: %s born %+v, want regenerated from %s with the old key kept", keptNewRef, regen, keptRef)
	}
	first.stop()

	second := startHistoryRun(t, srv, path)
	for _, ref := range []string{userRef, keptRef, keptNewRef} {
		d, err := second.In.Session(ref)
		if err != nil || !d.Row.Inventory || !d.Row.Born.IsZero() || d.Row.FromRef != "" || d.Row.ToRef != "" {
			t.Fatalf("second run: %s is %+v (%v); want it found by the inventory, with no birth or lineage of its own", ref, d.Row, err)
		}
	}
	app := newApp(t, second.In, false)

	t.Run("session page", func(t *testing.T) {
		doc := getPage(t, app, "/sessions/"+userRef, 200)
		if got := bornISO(doc.One("born")); got != userBirth.Time.UTC().Format(time.RFC3339Nano) {
			t.Errorf("born %q; want %s, the first run's regeneration", got, userBirth.Time.UTC().Format(time.RFC3339Nano))
		}
		if note := uitest.Text(doc.One("born-note")); !strings.Contains(note, "before sessionscope's restart") || strings.Contains(note, "unknown") {
			t.Errorf("born note %q; want it to say the birth was before the restart", note)
		}
		if from := strings.TrimSpace(uitest.Text(doc.One("lineage-from"))); from != anonRef {
			t.Errorf("regenerated from %q; want %s", from, anonRef)
		}
		if ev := uitest.Text(doc.One("lineage-evidence")); !strings.Contains(ev, userBirth.Evidence) {
			t.Errorf("lineage evidence %q; want %q", ev, userBirth.Evidence)
		}
		kinds, gapText := timelineKinds(doc)
		if !strings.HasPrefix(kinds, "regenerated gap") {
			t.Errorf("timeline %q; want the first run's regeneration, then the gap of the restart", kinds)
		}
		if !strings.Contains(gapText, "sessionscope was not running") {
			t.Errorf("timeline gap %q; want it to say sessionscope was not running", gapText)
		}

		kept := getPage(t, app, "/sessions/"+keptRef, 200)
		if to := strings.TrimSpace(uitest.Text(kept.One("lineage-to"))); to != keptNewRef {
			t.Errorf("%s regenerated to %q; want %s (its old key kept)", keptRef, to, keptNewRef)
		}
		if got := bornISO(kept.One("born")); got != keptBirth.Time.UTC().Format(time.RFC3339Nano) {
			t.Errorf("%s born %q; want %s", keptRef, got, keptBirth.Time.UTC().Format(time.RFC3339Nano))
		}
	})

	t.Run("ended session", func(t *testing.T) {
		// The first run's anonymous session ended in its regeneration; this run never
		// tracked it, and its page and API object come from the history.
		doc := getPage(t, app, "/sessions/"+anonRef, 200)
		if ended := uitest.Text(doc.One("session-ended")); !strings.Contains(ended, "regenerated to "+userRef) {
			t.Errorf("ended note %q; want it regenerated to %s", ended, userRef)
		}
		if href, _ := uitest.Attr(doc.One("session-json"), "href"); href != "/api/sessions/"+anonRef {
			t.Errorf("JSON link %q", href)
		}
		var d struct {
			Ref    string           `json:"ref"`
			Born   *time.Time       `json:"born"`
			To     *string          `json:"to"`
			Events []map[string]any `json:"events"`
			Ended  *struct {
				Kind string    `json:"kind"`
				Time time.Time `json:"time"`
				To   *string   `json:"to"`
			} `json:"ended"`
		}
		getJSON(t, app, "/api/sessions/"+anonRef, 200, &d)
		if d.Ended == nil || d.Ended.Kind != string(model.KindRegenerated) || d.Ended.To == nil || *d.Ended.To != userRef || !d.Ended.Time.Equal(userBirth.Time) {
			t.Errorf("/api/sessions/%s ended %+v; want regenerated to %s at %s", anonRef, d.Ended, userRef, userBirth.Time)
		}
		if d.Born == nil || d.Ref != anonRef || eventKinds(d.Events) != "created regenerated" {
			t.Errorf("/api/sessions/%s: ref %q born %v events %q; want its birth and its regeneration", anonRef, d.Ref, d.Born, eventKinds(d.Events))
		}
	})

	t.Run("session the history does not know", func(t *testing.T) {
		doc := getPage(t, app, "/sessions/"+idleRef, 200)
		if note := uitest.Text(doc.One("born-note")); !strings.Contains(note, "unknown: found by the inventory") {
			t.Errorf("born note %q; want the birth unknown, found by the inventory", note)
		}
		if empty := uitest.Text(doc.One("timeline-empty")); !strings.Contains(empty, "the history holds none of its events") {
			t.Errorf("empty timeline %q; want it to speak of the history", empty)
		}
	})

	t.Run("sessions screen", func(t *testing.T) {
		doc := getPage(t, app, "/sessions", 200)
		rows := map[string]*html.Node{}
		for _, r := range doc.ByTestID("session-row") {
			ref, _ := uitest.Attr(r, "data-ref")
			rows[ref] = r
		}
		for ref, birth := range map[string]time.Time{userRef: userBirth.Time, keptRef: keptBirth.Time} {
			row := rows[ref]
			if row == nil {
				t.Fatalf("no row for %s among %d", ref, len(rows))
			}
			if got := bornISO(uitest.ByTestID(row, "session-born")[0]); got != birth.UTC().Format(time.RFC3339Nano) {
				t.Errorf("row %s born %q; want %s from the history", ref, got, birth.UTC().Format(time.RFC3339Nano))
			}
		}
		if txt := uitest.Text(rows[userRef]); !strings.Contains(txt, "regenerated") {
			t.Errorf("row %s %q; want its regenerated tag", userRef, strings.Join(strings.Fields(txt), " "))
		}

		// A change of the session pushes its row again: the same row, birth included.
		s, err := newHandlers(t, second.In).PageStreamFor("/ws/page?view=sessions")
		if err != nil {
			t.Fatal(err)
		}
		up := &model.Event{Seq: second.In.Seq() + 1, Kind: model.KindUpdated, Session: &model.SessionInfo{Ref: userRef}}
		pushed, err := s.Batch(up.Seq, []model.Object{up}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var pushedRow *html.Node
		// Parsed inside a table, as the browser does with the rows it receives.
		for _, r := range uitest.Parse(t, append(append([]byte("<table>"), pushed...), "</table>"...)).ByTestID("session-row") {
			if ref, _ := uitest.Attr(r, "data-ref"); ref == userRef {
				pushedRow = r
			}
		}
		if pushedRow == nil {
			t.Fatalf("no row of %s pushed:\n%s", userRef, pushed)
		}
		if got := bornISO(uitest.ByTestID(pushedRow, "session-born")[0]); got != userBirth.Time.UTC().Format(time.RFC3339Nano) {
			t.Errorf("pushed row of %s born %q; want %s, as on first load", userRef, got, userBirth.Time.UTC().Format(time.RFC3339Nano))
		}
	})

	t.Run("api", func(t *testing.T) {
		var d struct {
			Born         *time.Time       `json:"born"`
			From         *string          `json:"from"`
			To           *string          `json:"to"`
			FromEvidence string           `json:"from_evidence"`
			Inventory    bool             `json:"inventory"`
			Events       []map[string]any `json:"events"`
		}
		getJSON(t, app, "/api/sessions/"+userRef, 200, &d)
		if d.Born == nil || !d.Born.Equal(userBirth.Time) || d.From == nil || *d.From != anonRef || !d.Inventory {
			t.Errorf("/api/sessions/%s: born %v from %v inventory %v; want born %s (the first run's regeneration) from %s, inventory",
				userRef, d.Born, d.From, d.Inventory, userBirth.Time, anonRef)
		}
		if got := eventKinds(d.Events); !strings.HasPrefix(got, "regenerated gap") {
			t.Errorf("/api/sessions/%s events %q; want the first run's regeneration, then the gap of the restart", userRef, got)
		}
		var list struct {
			Sessions []struct {
				Ref  string     `json:"ref"`
				Born *time.Time `json:"born"`
				From *string    `json:"from"`
			} `json:"sessions"`
		}
		getJSON(t, app, "/api/sessions", 200, &list)
		listed := false
		for _, s := range list.Sessions {
			if s.Ref == userRef {
				listed = true
				if s.Born == nil || !s.Born.Equal(userBirth.Time) || s.From == nil || *s.From != anonRef {
					t.Errorf("/api/sessions lists %s born %v from %v; want born %s from %s", userRef, s.Born, s.From, userBirth.Time, anonRef)
				}
			}
		}
		if !listed {
			t.Errorf("/api/sessions does not list %s", userRef)
		}
		getJSON(t, app, "/api/sessions/"+keptRef, 200, &d)
		if d.Born == nil || !d.Born.Equal(keptBirth.Time) || d.To == nil || *d.To != keptNewRef {
			t.Errorf("/api/sessions/%s: born %v to %v; want born %s, regenerated to %s with the old key kept", keptRef, d.Born, d.To, keptBirth.Time, keptNewRef)
		}
	})

	// Without a history the timeline is the ring's; its empty text says so.
	second.stop()
	third := startHistoryRun(t, srv, "")
	doc := getPage(t, newApp(t, third.In, false), "/sessions/"+idleRef, 200)
	if empty := uitest.Text(doc.One("timeline-empty")); !strings.Contains(empty, "the last 10,000 objects sessionscope keeps in memory") {
		t.Errorf("empty timeline without history %q; want it to speak of the ring", empty)
	}
}

// eventKinds lists the kinds of API events, space separated.
func eventKinds(events []map[string]any) string {
	var kinds []string
	for _, e := range events {
		k, _ := e["kind"].(string)
		kinds = append(kinds, k)
	}
	return strings.Join(kinds, " ")
}

// bornISO is the datetime of the born stamp under n; "" when it shows none.
func bornISO(n *html.Node) string {
	for _, t := range uitest.All(n, func(c *html.Node) bool { return c.Type == html.ElementNode && c.Data == "time" }) {
		iso, _ := uitest.Attr(t, "datetime")
		return iso
	}
	return ""
}

// timelineKinds lists the kinds of a session page's timeline, oldest first, and the
// text of its first gap.
func timelineKinds(doc *uitest.Doc) (kinds, gap string) {
	var ks []string
	for _, g := range uitest.All(doc.One("timeline"), func(c *html.Node) bool {
		_, ok := uitest.Attr(c, "data-kind")
		return ok && c.Data == "g"
	}) {
		k, _ := uitest.Attr(g, "data-kind")
		ks = append(ks, k)
		if k == string(model.KindGap) && gap == "" {
			gap = uitest.Text(g)
		}
	}
	return strings.Join(ks, " "), gap
}

// TestSessionTimelineCut: a session with more events in the history than a timeline
// reads says on its page that the timeline leaves some out.
func TestSessionTimelineCut(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "history.db")
	const id = "cutsession000000000000000a"
	ref := model.Ref(id)
	recordEvents(t, path, id, inspector.MaxTimelineEvents+1)
	app := newApp(t, runOn(t, path), false)
	doc := getPage(t, app, "/sessions/"+ref, 200)
	if note := uitest.Text(doc.One("timeline-note")); !strings.Contains(note, "more than 20,000 events") {
		t.Errorf("timeline note %q; want it to say the timeline is cut", note)
	}

	// A timeline read whole says nothing of the kind.
	whole := filepath.Join(t.TempDir(), "whole.db")
	recordEvents(t, whole, id, 3)
	if doc := getPage(t, newApp(t, runOn(t, whole), false), "/sessions/"+ref, 200); doc.Has("timeline-note") {
		t.Errorf("a whole timeline says %q", uitest.Text(doc.One("timeline-note")))
	}
}

// recordEvents writes, as a past run, n events of the session id: its birth, then
// touches a millisecond apart, an hour ago.
func recordEvents(t *testing.T, path, id string, n int) {
	t.Helper()
	st, err := history.Open(history.Options{Path: path, QueueSize: n + 10})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	for i := range n {
		kind := model.KindTouched
		if i == 0 {
			kind = model.KindCreated
		}
		st.Append(&model.Event{Type: model.TypeEvent, Seq: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Millisecond), Kind: kind,
			Backend: "redis", Session: &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php"}})
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if d := st.Stats().Dropped; d != 0 {
		t.Fatalf("the history dropped %d of %d events", d, n)
	}
}

// runOn is an Inspector of a later run over the history at path, on an empty
// embedded store: every session of the history has ended for it.
func runOn(t *testing.T, path string) *inspector.Inspector {
	t.Helper()
	st, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return inspector.New(memory.New(memory.Options{}), inspector.Config{History: st})
}
