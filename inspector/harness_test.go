package inspector_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/internal/testredis"
)

// harness runs an Inspector against a throwaway redis-server and records everything it
// emits. The app side is a plain go-redis client replaying a framework's commands.
type harness struct {
	t   *testing.T
	srv *testredis.Server
	rdb *redis.Client
	in  *inspector.Inspector

	mu     sync.Mutex
	objs   []model.Object
	notify chan struct{}
	stop   func() // ends the run (flushing pending events and decisions); idempotent
}

type harnessOptions struct {
	redis      testredis.Options
	tracker    tracker.Config
	frameworks []framework.Framework
	store      func(*redisstore.Config)
	before     func(h *harness) // runs after Redis starts, before sessionscope attaches
}

func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	srv := testredis.Start(t, opts.redis)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	h := &harness{t: t, srv: srv, rdb: rdb, notify: make(chan struct{}, 1)}
	if opts.before != nil {
		opts.before(h)
	}
	fws := opts.frameworks
	if fws == nil {
		fws = framework.Builtin()
	}
	matcher := framework.NewMatcher(fws)
	scfg := redisstore.Config{URL: srv.URL(), Matcher: matcher}
	if opts.store != nil {
		opts.store(&scfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	store, err := redisstore.Open(ctx, scfg)
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	tcfg := opts.tracker
	tcfg.Matcher = matcher
	h.in = inspector.New(store, inspector.Config{Tracker: tcfg})
	sub := h.in.Subscribe(1 << 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for o := range sub.C() {
			h.mu.Lock()
			h.objs = append(h.objs, o)
			h.mu.Unlock()
			select {
			case h.notify <- struct{}{}:
			default:
			}
		}
	}()
	runDone := make(chan error, 1)
	go func() { runDone <- h.in.Run(ctx) }()
	var stopOnce sync.Once
	h.stop = func() {
		stopOnce.Do(func() {
			cancel()
			if err := <-runDone; err != nil {
				t.Errorf("inspector run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		h.stop()
		sub.Cancel()
		<-done
		_ = store.Close()
		if t.Failed() {
			t.Logf("emitted:\n%s", h.dump())
		}
	})
	return h
}

func (h *harness) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, o := range h.objs {
		switch v := o.(type) {
		case *model.Event:
			fmt.Fprintf(&b, "  event %d %s", v.Seq, v.Kind)
			if v.Session != nil {
				fmt.Fprintf(&b, " %s %s", v.Session.Framework, v.Session.Ref)
			}
			if v.From != nil {
				fmt.Fprintf(&b, " from %s (%s old_kept=%v)", v.From.Ref, v.Evidence, v.OldKept)
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
			fmt.Fprintf(&b, " at %s", v.Time.Format("15:04:05.000"))
			b.WriteString("\n")
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
			fmt.Fprintf(&b, "  status %s %+v %q\n", v.State, v.Inventory, v.Message)
		}
	}
	return b.String()
}

// do runs one command as the app would.
func (h *harness) do(args ...any) {
	h.t.Helper()
	if err := h.rdb.Do(context.Background(), args...).Err(); err != nil && err != redis.Nil {
		h.t.Fatalf("redis %v: %v", args, err)
	}
}

// wait blocks until an emitted object satisfies pred. The limit only guards against a
// hang; no test asserts on how long anything took.
func (h *harness) wait(what string, pred func(model.Object) bool) model.Object {
	h.t.Helper()
	limit := time.After(20 * time.Second)
	seen := 0
	for {
		h.mu.Lock()
		for ; seen < len(h.objs); seen++ {
			if pred(h.objs[seen]) {
				o := h.objs[seen]
				h.mu.Unlock()
				return o
			}
		}
		h.mu.Unlock()
		select {
		case <-h.notify:
		case <-limit:
			h.t.Fatalf("no %s within 20 s", what)
		}
	}
}

func (h *harness) waitLive() {
	h.t.Helper()
	h.wait("inventory done", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	})
}

func (h *harness) waitEvent(kind model.Kind, key string) *model.Event {
	h.t.Helper()
	ref := refOfKey(key)
	return h.wait(fmt.Sprintf("%s event for %s", kind, key), func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == kind && e.Session != nil && e.Session.Ref == ref
	}).(*model.Event)
}

func (h *harness) waitFinding(rule string) *model.Finding {
	h.t.Helper()
	return h.wait("finding "+rule, func(o model.Object) bool {
		f, ok := o.(*model.Finding)
		return ok && f.Rule == rule
	}).(*model.Finding)
}

// events returns the emitted events of the given keys, in order.
func (h *harness) events(keys ...string) []*model.Event {
	refs := map[string]bool{}
	for _, k := range keys {
		refs[refOfKey(k)] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*model.Event
	for _, o := range h.objs {
		if e, ok := o.(*model.Event); ok && e.Session != nil && refs[e.Session.Ref] {
			out = append(out, e)
		}
	}
	return out
}

func kinds(events []*model.Event) string {
	var out []string
	for _, e := range events {
		out = append(out, string(e.Kind))
	}
	return strings.Join(out, " ")
}

var matcher = framework.NewMatcher(framework.Builtin())

// refOfKey is the ref of a session key under the builtin table.
func refOfKey(key string) string {
	m, ok := matcher.Match(key)
	if !ok {
		panic("not a session key: " + key)
	}
	return model.Ref(m.StoreID)
}

// phpString serialises a PHP string.
func phpString(s string) string { return fmt.Sprintf("s:%d:\"%s\";", len(s), s) }
