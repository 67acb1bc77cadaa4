package inspector_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// TestHistoryRecordsWhatIsPublished: events and proxied exchanges reach the history
// file, status objects do not, and a session's timeline reads it.
func TestHistoryRecordsWhatIsPublished(t *testing.T) {
	ctx := context.Background()
	st, err := history.Open(history.Options{Path: filepath.Join(t.TempDir(), "h.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	matcher := framework.NewMatcher(framework.Builtin())
	store := memory.New(memory.Options{Matcher: matcher})
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Window: 10 * time.Millisecond, Matcher: matcher}, History: st})
	sub := in.Subscribe(1024)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done; sub.Cancel() })

	await := func(what string, pred func(model.Object) bool) {
		t.Helper()
		limit := time.After(30 * time.Second)
		for {
			select {
			case o := <-sub.C():
				if pred(o) {
					return
				}
			case <-limit:
				t.Fatalf("no %s in 30 s", what)
			}
		}
	}
	await("inventory done", func(o model.Object) bool {
		st, ok := o.(*model.Status)
		return ok && st.Inventory != nil && st.Inventory.Done
	})
	const id = "archivetest000000000000000"
	store.Set("", "PHPREDIS_SESSION:"+id, []byte(`user_id|i:1;`), time.Hour)
	ref := model.Ref(id)
	await("created", func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == model.KindCreated && e.Session != nil && e.Session.Ref == ref
	})
	now := time.Now()
	in.PublishExchange(&model.Exchange{Type: model.TypeExchange, ID: "x-1", Start: now, HeadersSent: now, End: now,
		Method: "GET", URL: "http://app.test/", RawURL: "http://app.test/", Status: 200, Client: model.Client{Addr: "10.0.0.1:1"}})

	var objs []model.Object
	for deadline := time.Now().Add(10 * time.Second); ; {
		objs, err = in.History(ctx, history.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // the writer batches behind the stream
	}
	var created, exchanges int
	for _, o := range objs {
		switch v := o.(type) {
		case *model.Event:
			if v.Kind == model.KindCreated && v.Session != nil && v.Session.Ref == ref {
				created++
			}
		case *model.Exchange:
			exchanges++
		case *model.Status:
			t.Errorf("a status object was recorded: %+v", v)
		}
	}
	if created != 1 || exchanges != 1 {
		t.Errorf("history holds %d created events of %s and %d exchanges, want 1 and 1", created, ref, exchanges)
	}
	if tl := in.SessionEvents(ctx, ref); len(tl) != 1 || tl[0].Kind != model.KindCreated {
		t.Errorf("timeline of %s: %v, want its one created event, not twice (ring and history)", ref, tl)
	}
	if s, ok := in.HistoryStats(); !ok || s.Written < 2 {
		t.Errorf("history stats %+v, %v", s, ok)
	}

	none := inspector.New(memory.New(memory.Options{}), inspector.Config{})
	if _, err := none.History(ctx, history.Query{}); !errors.Is(err, inspector.ErrNoHistory) {
		t.Errorf("History without a file: %v, want ErrNoHistory", err)
	}
}
