package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// testWindow is shorter than the 300 ms default so the tests wait less; every step
// still waits for the event it expects, so nothing depends on how long anything takes.
const testWindow = 60 * time.Millisecond

// watch runs a real Inspector over a files store and records what it emits. Sessions
// are named by store id (the file name without its prefix).
type watch struct {
	*trackertest.Watch
	t     *testing.T
	store *Store
	in    *inspector.Inspector
}

func newWatch(t *testing.T, store *Store) *watch {
	t.Helper()
	return newWatchWindow(t, store, testWindow)
}

// newWatchWindow is newWatch with the tracker's correlation window given: a test
// where a real process writes (PHP unlinks the old file at session_regenerate_id and
// writes the new one at shutdown) needs the default-sized window, since on a loaded
// machine the two can be further apart than testWindow.
func newWatchWindow(t *testing.T, store *Store, window time.Duration) *watch {
	t.Helper()
	matcher := framework.NewMatcher(append(framework.Builtin(), framework.PHPFiles()))
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher, Window: window}})
	return &watch{Watch: trackertest.Start(t, in, model.Ref), t: t, store: store, in: in}
}

func (w *watch) waitStatus(contains string) *model.Status {
	w.t.Helper()
	return w.Wait("status saying "+contains, func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && strings.Contains(s.Message, contains)
	}).(*model.Status)
}

// eventsFor lists the kinds emitted for a session so far.
func (w *watch) eventsFor(id string) []string { return trackertest.Kinds(w.Events(id)) }

// rawWatch runs the store alone and records its raw events, for checks below the
// tracker (which op a change became, and that a change is reported once).
type rawWatch struct {
	t    *testing.T
	evs  *trackertest.Recorder[backend.RawEvent]
	live chan struct{} // closed at the first status with the inventory done
}

func newRawWatch(t *testing.T, store *Store) *rawWatch {
	t.Helper()
	r := &rawWatch{t: t, evs: trackertest.NewRecorder[backend.RawEvent](), live: make(chan struct{})}
	feed := backend.NewFeed(1024)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- store.Run(ctx, feed) }()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case ev := <-feed.Raw:
				r.evs.Add(ev)
			case <-feed.Inventory:
			case st := <-feed.Status:
				if st.Inventory != nil && st.Inventory.Done {
					close(r.live)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("store run: %v", err)
		}
		<-drained
		if t.Failed() {
			for _, ev := range r.evs.All() {
				t.Logf("  raw %s %s node=%s", ev.Op, ev.Key, ev.Node)
			}
		}
	})
	return r
}

func (r *rawWatch) waitLive() {
	r.t.Helper()
	select {
	case <-r.live:
	case <-time.After(trackertest.Limit):
		r.t.Fatalf("the store did not finish its inventory within %s", trackertest.Limit)
	}
}

// waitOp waits for a raw op on key and returns how many raw events came before it.
func (r *rawWatch) waitOp(op backend.Op, key string) int {
	r.t.Helper()
	_, n := r.evs.Wait(r.t, "raw "+op.String()+" for "+key, func(ev backend.RawEvent) bool { return ev.Op == op && ev.Key == key })
	return n
}

func (r *rawWatch) opsFor(key string) []string {
	var out []string
	for _, ev := range r.evs.All() {
		if ev.Key == key {
			out = append(out, ev.Op.String()+"@"+ev.Node)
		}
	}
	return out
}

// writeSession writes a session file as PHP's files handler leaves it.
func writeSession(t *testing.T, dir, id, payload string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, Prefix+id), []byte(payload), 0o600); err != nil {
		t.Fatal(err)
	}
}

func age(t *testing.T, dir, id string, by time.Duration) {
	t.Helper()
	old := time.Now().Add(-by)
	if err := os.Chtimes(filepath.Join(dir, Prefix+id), old, old); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, id string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, Prefix+id)); err != nil {
		t.Fatal(err)
	}
}

func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
