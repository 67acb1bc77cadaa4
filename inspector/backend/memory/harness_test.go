package memory

import (
	"context"
	"fmt"
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

// watch runs a real Inspector over store and records what it emits, as the inspector
// package's own harness does for Redis.
type watch struct {
	t    *testing.T
	in   *inspector.Inspector
	mu   sync.Mutex
	objs []model.Object
	note chan struct{}
	stop func()
}

var matcher = framework.NewMatcher(framework.Builtin())

// testWindow is shorter than the 300 ms default so the tests spend less time waiting;
// steps still wait for each event, so nothing depends on how long anything takes.
const testWindow = 60 * time.Millisecond

func newWatch(t *testing.T, store backend.Store) *watch {
	t.Helper()
	w := &watch{t: t, note: make(chan struct{}, 1)}
	w.in = inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher, Window: testWindow}})
	sub := w.in.Subscribe(1 << 14)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for o := range sub.C() {
			w.mu.Lock()
			w.objs = append(w.objs, o)
			w.mu.Unlock()
			select {
			case w.note <- struct{}{}:
			default:
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- w.in.Run(ctx) }()
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-runDone; err != nil {
				t.Errorf("inspector run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		w.stop()
		sub.Cancel()
		<-done
		if t.Failed() {
			t.Logf("emitted:\n%s", w.dump())
		}
	})
	return w
}

// wait blocks until an emitted object satisfies pred. The limit only guards against a
// hang; nothing asserts on how long anything took.
func (w *watch) wait(what string, pred func(model.Object) bool) model.Object {
	w.t.Helper()
	limit := time.After(20 * time.Second)
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.objs); seen++ {
			if pred(w.objs[seen]) {
				o := w.objs[seen]
				w.mu.Unlock()
				return o
			}
		}
		w.mu.Unlock()
		select {
		case <-w.note:
		case <-limit:
			w.t.Fatalf("no %s within 20 s", what)
		}
	}
}

func (w *watch) waitLive() *model.Status {
	w.t.Helper()
	return w.wait("inventory done", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	}).(*model.Status)
}

func (w *watch) waitEvent(kind model.Kind, key string) *model.Event {
	w.t.Helper()
	ref := refOf(key)
	return w.wait(fmt.Sprintf("%s event for %s", kind, key), func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == kind && e.Session != nil && e.Session.Ref == ref
	}).(*model.Event)
}

// events returns the lifecycle events so far, rendered with key names instead of refs.
func (w *watch) events(names map[string]string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, o := range w.objs {
		e, ok := o.(*model.Event)
		if !ok || e.Session == nil {
			continue
		}
		line := string(e.Kind) + " " + nameOf(names, e.Session.Ref)
		if e.From != nil {
			line += " from " + nameOf(names, e.From.Ref) + " (" + e.Evidence + ")"
		}
		if len(e.Changed) > 0 {
			line += " changed " + strings.Join(e.Changed, ",")
		}
		out = append(out, line)
	}
	return out
}

func nameOf(names map[string]string, ref string) string {
	if n, ok := names[ref]; ok {
		return n
	}
	return ref
}

func (w *watch) dump() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, o := range w.objs {
		switch v := o.(type) {
		case *model.Event:
			fmt.Fprintf(&b, "  event %d %s node=%q", v.Seq, v.Kind, v.Node)
			if v.Session != nil {
				fmt.Fprintf(&b, " %s %s", v.Session.Framework, v.Session.Ref)
			}
			if v.From != nil {
				fmt.Fprintf(&b, " from %s (%s)", v.From.Ref, v.Evidence)
			}
			if v.TTL != nil {
				fmt.Fprintf(&b, " ttl %d", *v.TTL)
			}
			b.WriteString("\n")
		case *model.Status:
			fmt.Fprintf(&b, "  status %s %+v %q\n", v.State, v.Inventory, v.Message)
		default:
			fmt.Fprintf(&b, "  %T\n", v)
		}
	}
	return b.String()
}

func refOf(key string) string {
	m, ok := matcher.Match(key)
	if !ok {
		panic("not a session key: " + key)
	}
	return model.Ref(m.StoreID)
}

// phpKey is a phpredis session key; ids look like PHP's default 26 characters.
func phpKey(id string) string { return "PHPREDIS_SESSION:" + id }

// phpSession is a session payload in PHP's default "php" serialize handler format.
func phpSession(user string) []byte {
	return fmt.Appendf(nil, "user|s:%d:\"%s\";", len(user), user)
}
