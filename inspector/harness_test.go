package inspector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// harness runs an Inspector against a throwaway redis-server and records everything it
// emits. The app side is a plain go-redis client replaying a framework's commands.
type harness struct {
	*trackertest.Watch // names sessions by key
	t                  *testing.T
	srv                *redistest.Server
	rdb                *redis.Client
	in                 *inspector.Inspector
}

type harnessOptions struct {
	redis      redistest.Options
	tracker    tracker.Config
	frameworks []framework.Framework
	store      func(*redisstore.Config)
	before     func(h *harness) // runs after Redis starts, before sessionscope attaches
}

func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	srv := redistest.Start(t, opts.redis)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	h := &harness{t: t, srv: srv, rdb: rdb}
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
	store, err := redisstore.Open(context.Background(), scfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() }) // registered first, so it runs after the watch stops
	tcfg := opts.tracker
	tcfg.Matcher = matcher
	h.in = inspector.New(store, inspector.Config{Tracker: tcfg})
	h.Watch = trackertest.Start(t, h.in, refOfKey)
	return h
}

// do runs one command as the app would.
func (h *harness) do(args ...any) {
	h.t.Helper()
	if err := h.rdb.Do(context.Background(), args...).Err(); err != nil && err != redis.Nil {
		h.t.Fatalf("redis %v: %v", args, err)
	}
}

func (h *harness) waitFinding(rule string) *model.Finding {
	h.t.Helper()
	return h.Wait("finding "+rule, func(o model.Object) bool {
		f, ok := o.(*model.Finding)
		return ok && f.Rule == rule
	}).(*model.Finding)
}

// kinds lists the kinds of events, space-separated, for comparing with a want string.
func kinds(events []*model.Event) string { return strings.Join(trackertest.Kinds(events), " ") }

var matcher = framework.NewMatcher(framework.Builtin())

// refOfKey is the ref of a session key under the builtin table.
var refOfKey = trackertest.KeyRef(matcher)

// phpString serialises a PHP string.
func phpString(s string) string { return fmt.Sprintf("s:%d:\"%s\";", len(s), s) }
