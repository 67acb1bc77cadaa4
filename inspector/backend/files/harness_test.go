package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// testWindow is shorter than the 300 ms default so the tests wait less; every step
// still waits for the event it expects, so nothing depends on how long anything takes.
const testWindow = 60 * time.Millisecond

// recorder keeps what a test observes, in order, and lets it wait for an item.
type recorder[T any] struct {
	mu    sync.Mutex
	items []T
	note  chan struct{}
}

func newRecorder[T any]() *recorder[T] { return &recorder[T]{note: make(chan struct{}, 1)} }

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	r.items = append(r.items, v)
	r.mu.Unlock()
	select {
	case r.note <- struct{}{}:
	default:
	}
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// wait blocks until an item satisfies pred and returns it with its index. The limit
// only guards against a hang; nothing asserts on how long anything took.
func (r *recorder[T]) wait(t *testing.T, what string, pred func(T) bool) (T, int) {
	t.Helper()
	limit := time.After(20 * time.Second)
	seen := 0
	for {
		r.mu.Lock()
		for ; seen < len(r.items); seen++ {
			if pred(r.items[seen]) {
				v := r.items[seen]
				r.mu.Unlock()
				return v, seen
			}
		}
		r.mu.Unlock()
		select {
		case <-r.note:
		case <-limit:
			t.Fatalf("no %s within 20 s", what)
		}
	}
}

// watch runs a real Inspector over a files store and records what it emits.
type watch struct {
	t     *testing.T
	store *Store
	in    *inspector.Inspector
	objs  *recorder[model.Object]
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
	w := &watch{t: t, store: store, objs: newRecorder[model.Object]()}
	matcher := framework.NewMatcher(append(framework.Builtin(), framework.PHPFiles()))
	w.in = inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher, Window: window}})
	sub := w.in.Subscribe(1 << 14)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for o := range sub.C() {
			w.objs.add(o)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- w.in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("inspector run: %v", err)
		}
		sub.Cancel()
		<-done
		if t.Failed() {
			t.Logf("emitted:\n%s", w.dump())
		}
	})
	return w
}

func (w *watch) wait(what string, pred func(model.Object) bool) model.Object {
	w.t.Helper()
	o, _ := w.objs.wait(w.t, what, pred)
	return o
}

func (w *watch) waitLive() *model.Status {
	w.t.Helper()
	return w.wait("inventory done", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	}).(*model.Status)
}

func (w *watch) waitStatus(contains string) *model.Status {
	w.t.Helper()
	return w.wait("status saying "+contains, func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && strings.Contains(s.Message, contains)
	}).(*model.Status)
}

func (w *watch) waitEvent(kind model.Kind, id string) *model.Event {
	w.t.Helper()
	ref := model.Ref(id)
	return w.wait(fmt.Sprintf("%s event for %s", kind, id), func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == kind && e.Session != nil && e.Session.Ref == ref
	}).(*model.Event)
}

// eventsFor lists the kinds emitted for a session so far.
func (w *watch) eventsFor(id string) []string {
	var out []string
	for _, o := range w.objs.all() {
		if e, ok := o.(*model.Event); ok && e.Session != nil && e.Session.Ref == model.Ref(id) {
			out = append(out, string(e.Kind))
		}
	}
	return out
}

func (w *watch) dump() string {
	var b strings.Builder
	for _, o := range w.objs.all() {
		switch v := o.(type) {
		case *model.Event:
			ref := ""
			if v.Session != nil {
				ref = v.Session.Ref
			}
			fmt.Fprintf(&b, "  event %s %s node=%s changed=%v unread=%s\n", v.Kind, ref, v.Node, v.Changed, v.PayloadUnread)
		case *model.Status:
			fmt.Fprintf(&b, "  status %s %s %q\n", v.Node, v.State, v.Message)
		default:
			fmt.Fprintf(&b, "  %T\n", o)
		}
	}
	return b.String()
}

// rawWatch runs the store alone and records its raw events, for checks below the
// tracker (which op a change became, and that a change is reported once).
type rawWatch struct {
	t    *testing.T
	evs  *recorder[backend.RawEvent]
	live chan struct{} // closed at the first status with the inventory done
}

func newRawWatch(t *testing.T, store *Store) *rawWatch {
	t.Helper()
	r := &rawWatch{t: t, evs: newRecorder[backend.RawEvent](), live: make(chan struct{})}
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
				r.evs.add(ev)
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
			for _, ev := range r.evs.all() {
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
	case <-time.After(20 * time.Second):
		r.t.Fatal("the store did not finish its inventory within 20 s")
	}
}

// waitOp waits for a raw op on key and returns how many raw events came before it.
func (r *rawWatch) waitOp(op backend.Op, key string) int {
	r.t.Helper()
	_, n := r.evs.wait(r.t, "raw "+op.String()+" for "+key, func(ev backend.RawEvent) bool { return ev.Op == op && ev.Key == key })
	return n
}

func (r *rawWatch) opsFor(key string) []string {
	var out []string
	for _, ev := range r.evs.all() {
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
