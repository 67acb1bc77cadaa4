package trackertest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// fakeInspector publishes script on Run, then returns end (nil: runs until cancelled).
type fakeInspector struct {
	hub    *stream.Broadcaster
	script []model.Object
	end    error
}

func (f *fakeInspector) Subscribe(capacity int) *stream.Subscription {
	return f.hub.Subscribe(capacity)
}

func (f *fakeInspector) Run(ctx context.Context) error {
	for _, o := range f.script {
		f.hub.Publish(o)
	}
	if f.end != nil {
		return f.end
	}
	<-ctx.Done()
	return nil
}

// fatalT records a failure the way testing.T reports one, so that the helpers' own
// failures can be checked: Fatal ends the calling goroutine.
type fatalT struct {
	testing.TB
	mu       sync.Mutex
	msgs     []string
	cleanups []func()
}

func (f *fatalT) Helper() {}
func (f *fatalT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *fatalT) Fatal(args ...any) { f.Errorf("%s", fmt.Sprint(args...)); runtime.Goexit() }
func (f *fatalT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}
func (f *fatalT) Logf(string, ...any) {}
func (f *fatalT) Cleanup(fn func())   { f.cleanups = append(f.cleanups, fn) }
func (f *fatalT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.msgs) > 0
}

// run calls fn as a test body would and returns what it reported.
func (f *fatalT) run(fn func()) []string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	for _, c := range slices.Backward(f.cleanups) {
		c()
	}
	return f.msgs
}

func TestRecorderWait(t *testing.T) {
	r := NewRecorder[int]()
	r.Add(1)
	go func() {
		for i := 2; i <= 5; i++ {
			r.Add(i)
		}
	}()
	// A counting predicate works because each item is seen once, in order.
	odd := 0
	v, i := r.Wait(t, "the third odd number", func(n int) bool {
		if n%2 == 1 {
			odd++
		}
		return odd == 3
	})
	if v != 5 || i != 4 {
		t.Errorf("got %d at %d, want 5 at 4", v, i)
	}
	if got := r.All(); !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Errorf("All() = %v", got)
	}
}

func TestRecorderWakesEveryWaiter(t *testing.T) {
	r := NewRecorder[string]()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Wait(t, "go", func(s string) bool { return s == "go" })
		}()
	}
	time.Sleep(10 * time.Millisecond) // let the waiters block; they pass either way
	r.Add("go")
	wg.Wait()
}

func TestWatch(t *testing.T) {
	m := framework.NewMatcher(framework.Builtin())
	const key = "PHPREDIS_SESSION:abcdefghijklmnopqrstuvwxyz"
	ref := KeyRef(m)(key)
	info := &model.SessionInfo{Ref: ref}
	in := &fakeInspector{hub: stream.NewBroadcaster(), script: []model.Object{
		&model.Status{State: model.StateLive, Inventory: &model.Inventory{Done: true, Sessions: 2}},
		&model.Event{Kind: model.KindCreated, Session: info},
		&model.Event{Kind: model.KindCreated, Session: &model.SessionInfo{Ref: "other"}},
		&model.Event{Kind: model.KindDestroyed, Session: info},
	}}
	w := Start(t, in, KeyRef(m))
	if st := w.WaitLive(); st.Inventory.Sessions != 2 {
		t.Errorf("WaitLive returned %+v", st)
	}
	if ev := w.WaitEvent(model.KindDestroyed, key); ev.Session.Ref != ref {
		t.Errorf("WaitEvent returned %+v", ev)
	}
	w.Stop()
	if got := strings.Join(Kinds(w.Events(key)), " "); got != "created destroyed" {
		t.Errorf("Events(key) kinds %q", got)
	}
	if got := w.Events(); len(got) != 0 {
		t.Errorf("Events() with no names = %v, want none", got)
	}
	if n := len(w.Objects()); n != 4 {
		t.Errorf("%d objects recorded, want 4", n)
	}
	if d := w.Dump(); strings.Count(d, "\n") != 4 || !strings.Contains(d, "destroyed") {
		t.Errorf("Dump:\n%s", d)
	}
}

// TestWatchFailsWhenTheRunEnds: a wait does not sit out Limit for an object that can
// no longer come.
func TestWatchFailsWhenTheRunEnds(t *testing.T) {
	ft := &fatalT{}
	msgs := ft.run(func() {
		w := Start(ft, &fakeInspector{hub: stream.NewBroadcaster(), end: errors.New("store gone")}, model.Ref)
		w.WaitLive()
	})
	want := []string{"the inspector stopped before inventory done: store gone", "inspector run: store gone"}
	if !slices.Equal(msgs, want) {
		t.Errorf("reported %q, want %q", msgs, want)
	}
}

func TestDiffTable(t *testing.T) {
	set := func(refs ...string) map[string]bool {
		m := map[string]bool{}
		for _, r := range refs {
			m[r] = true
		}
		return m
	}
	for _, tc := range []struct {
		name         string
		table, store map[string]bool
		want         string
		equal        bool
	}{
		{"equal", set("a", "b"), set("b", "a"), "store 2, table 2: 0 missing [], 0 phantom []", true},
		{"both ways", set("a", "x", "y"), set("a", "c", "b"), "store 3, table 3: 2 missing [b c], 2 phantom [x y]", false},
		{"at most five shown", set(), set("1", "2", "3", "4", "5", "6"), "store 6, table 0: 6 missing [1 2 3 4 5], 0 phantom []", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := DiffTable(tc.table, tc.store)
			if d.Equal() != tc.equal || d.String() != tc.want {
				t.Errorf("DiffTable: equal %v %q, want %v %q", d.Equal(), d.String(), tc.equal, tc.want)
			}
		})
	}
}

func TestTableRefsPages(t *testing.T) {
	pages := map[string]tracker.Page{
		"":   {Rows: []tracker.SessionRow{{Ref: "a"}, {Ref: "b"}}, Next: "p2"},
		"p2": {Rows: []tracker.SessionRow{{Ref: "c"}}},
	}
	refs, err := TableRefs(func(q tracker.Query) (tracker.Page, error) { return pages[q.Cursor], nil })
	if err != nil || len(refs) != 3 || !refs["a"] || !refs["c"] {
		t.Errorf("TableRefs = %v, %v", refs, err)
	}
	_, err = TableRefs(func(tracker.Query) (tracker.Page, error) { return tracker.Page{}, errors.New("bad cursor") })
	if err == nil || err.Error() != "sessions: bad cursor" {
		t.Errorf("error %v", err)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "three tries", time.Minute, func() (bool, string) { n++; return n == 3, "" })
	ft := &fatalT{}
	msgs := ft.run(func() {
		Eventually(ft, "the impossible", 0, func() (bool, string) { return false, "still no" })
	})
	if want := []string{"no the impossible within 0s: still no"}; !slices.Equal(msgs, want) {
		t.Errorf("reported %q, want %q", msgs, want)
	}
}
