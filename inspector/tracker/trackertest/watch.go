package trackertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
)

// Inspector is what a Watch runs: *inspector.Inspector is one. It is an interface so
// that the inspector package's own tests can use a Watch without an import cycle.
type Inspector interface {
	Subscribe(capacity int) *stream.Subscription
	Run(ctx context.Context) error
}

// capacity is the subscription's buffer: large enough that the broadcaster, which drops
// rather than blocks, never drops an object a test waits for.
const capacity = 1 << 16

// Watch runs an inspector until the test ends and records every object it publishes
// (events, exchanges, findings, statuses). On failure the test's log gets Dump.
type Watch struct {
	t        testing.TB
	objs     *Recorder[model.Object]
	refOf    func(name string) string
	cancel   context.CancelFunc
	runDone  chan error
	stopOnce sync.Once
	failed   chan struct{} // closed when the run ends with an error before Stop
	runErr   error         // set before failed closes
}

// Start subscribes to in, runs it until the test ends, and records what it publishes.
// refOf maps the names the test gives sessions in WaitEvent and Events to refs:
// model.Ref where they are store ids, KeyRef where they are keys.
func Start(t testing.TB, in Inspector, refOf func(name string) string) *Watch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watch{t: t, objs: NewRecorder[model.Object](), refOf: refOf, cancel: cancel,
		runDone: make(chan error, 1), failed: make(chan struct{})}
	sub := in.Subscribe(capacity)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		for o := range sub.C() {
			w.objs.Add(o)
		}
	}()
	go func() {
		err := in.Run(ctx)
		if err != nil && ctx.Err() == nil {
			w.runErr = err
			close(w.failed)
		}
		w.runDone <- err
	}()
	t.Cleanup(func() {
		w.Stop()
		sub.Cancel()
		<-recorded
		if t.Failed() {
			t.Logf("emitted:\n%s", w.Dump())
		}
	})
	return w
}

// Stop ends the run now rather than when the test ends: the inspector emits what it
// still holds and makes its deferred decisions, so what is absent afterwards is
// absent. Later waits find only what the run published. Stop may be called again.
func (w *Watch) Stop() {
	w.stopOnce.Do(func() {
		w.cancel()
		if err := <-w.runDone; err != nil {
			w.t.Errorf("inspector run: %v", err)
		}
	})
}

// Objects returns a copy of what was published so far, in order.
func (w *Watch) Objects() []model.Object { return w.objs.All() }

// Wait blocks until a published object satisfies pred and returns it. It fails the
// test after Limit, or at once if the inspector stops with an error first. pred sees
// each object once, in order.
func (w *Watch) Wait(what string, pred func(model.Object) bool) model.Object {
	w.t.Helper()
	o, _ := w.objs.waitUnless(w.t, what, pred, w.failed, func(what string) string {
		return fmt.Sprintf("the inspector stopped before %s: %v", what, w.runErr)
	})
	return o
}

// WaitLive waits for the first status whose inventory is done: from then on the
// session table is complete and store changes arrive as events.
func (w *Watch) WaitLive() *model.Status {
	w.t.Helper()
	return w.Wait("inventory done", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	}).(*model.Status)
}

// WaitEvent waits for an event of kind on the session name stands for.
func (w *Watch) WaitEvent(kind model.Kind, name string) *model.Event {
	w.t.Helper()
	ref := w.refOf(name)
	return w.Wait(fmt.Sprintf("%s event for %s", kind, name), func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == kind && e.Session != nil && e.Session.Ref == ref
	}).(*model.Event)
}

// Events returns the events so far of the sessions names stand for, in order; no
// names, no events.
func (w *Watch) Events(names ...string) []*model.Event {
	refs := map[string]bool{}
	for _, n := range names {
		refs[w.refOf(n)] = true
	}
	var out []*model.Event
	for _, o := range w.objs.All() {
		if e, ok := o.(*model.Event); ok && e.Session != nil && refs[e.Session.Ref] {
			out = append(out, e)
		}
	}
	return out
}

// Kinds lists the kinds of evs, in order.
func Kinds(evs []*model.Event) []string {
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, string(e.Kind))
	}
	return out
}

// KeyRef returns the function that maps a session key to its ref under m, for tests
// that name sessions by key. It panics on a key m does not match: that is a mistake
// in the test, not in the code under test.
func KeyRef(m *framework.Matcher) func(key string) string {
	return func(key string) string {
		match, ok := m.Match(key)
		if !ok {
			panic("not a session key: " + key)
		}
		return model.Ref(match.StoreID)
	}
}

// Dump renders what was published, one object a line, for a failure message.
func (w *Watch) Dump() string {
	var b strings.Builder
	for _, o := range w.objs.All() {
		switch v := o.(type) {
		case *model.Event:
			fmt.Fprintf(&b, "  event %d %s node=%q", v.Seq, v.Kind, v.Node)
			if v.Session != nil {
				fmt.Fprintf(&b, " %s %s", v.Session.Framework, v.Session.Ref)
			}
			if v.From != nil {
				fmt.Fprintf(&b, " from %s (old_kept=%v)", v.From.Ref, v.OldKept)
			}
			for i, c := range v.Candidates {
				if i == 0 {
					b.WriteString(" candidates")
				}
				fmt.Fprintf(&b, " %s", c.Ref)
			}
			if v.Evidence != "" {
				fmt.Fprintf(&b, " evidence=%s", v.Evidence)
			}
			if len(v.Changed) > 0 {
				fmt.Fprintf(&b, " changed %v", v.Changed)
			}
			if v.PayloadUnread != "" {
				fmt.Fprintf(&b, " unread %s", v.PayloadUnread)
			}
			if v.TTL != nil {
				fmt.Fprintf(&b, " ttl %d", *v.TTL)
			}
			if v.Exchange != "" || v.Cause != "" {
				fmt.Fprintf(&b, " exchange %q cause %q", v.Exchange, v.Cause)
			}
			fmt.Fprintf(&b, " at %s\n", v.Time.Format("15:04:05.000"))
		case *model.Finding:
			fmt.Fprintf(&b, "  finding %s %s sessions %v\n", v.Rule, v.Severity, v.Sessions)
		case *model.Exchange:
			var set []string
			for _, sc := range v.SetCookies {
				set = append(set, sc.Name+"→"+sc.SessionRef)
			}
			fmt.Fprintf(&b, "  exchange %d %s %s %s %d %s carried %q set %v upstream %s client %s %s–%s\n", v.Seq, v.ID, v.Method, v.URL, v.Status, v.Location,
				v.SessionRef, set, v.Upstream, v.Client.Addr, v.Start.Format("15:04:05.000"), v.End.Format("15:04:05.000"))
		case *model.Status:
			fmt.Fprintf(&b, "  status %s node=%q mode=%s inv=%+v notif=%+v %q\n", v.State, v.Node, v.Mode, v.Inventory, v.Notifications, v.Message)
		default:
			fmt.Fprintf(&b, "  %T\n", o)
		}
	}
	return b.String()
}
