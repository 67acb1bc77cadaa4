// Package uitest holds test helpers for the dashboard: an HTML query helper that finds
// elements by data-testid, and a real Inspector attached to a throwaway redis-server.
package uitest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/net/html"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// Doc is a parsed HTML page.
type Doc struct {
	t    testing.TB
	Root *html.Node
}

// Parse parses an HTML page, failing the test when it is not HTML.
func Parse(t testing.TB, body []byte) *Doc {
	t.Helper()
	n, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse html: %v", err)
	}
	return &Doc{t: t, Root: n}
}

// All returns every element under n (n included) for which pred holds, in document order.
func All(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// ByTestID returns every element with data-testid=id.
func (d *Doc) ByTestID(id string) []*html.Node { return ByTestID(d.Root, id) }

// ByTestID returns every element under n with data-testid=id.
func ByTestID(n *html.Node, id string) []*html.Node {
	return All(n, func(e *html.Node) bool { v, ok := Attr(e, "data-testid"); return ok && v == id })
}

// One returns the single element with data-testid=id, failing the test otherwise.
func (d *Doc) One(id string) *html.Node {
	d.t.Helper()
	ns := d.ByTestID(id)
	if len(ns) != 1 {
		d.t.Fatalf("want exactly one data-testid=%q, found %d", id, len(ns))
	}
	return ns[0]
}

// Has reports whether some element has data-testid=id.
func (d *Doc) Has(id string) bool { return len(d.ByTestID(id)) > 0 }

// Attr returns an attribute's value.
func Attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// Text is the text content of n, whitespace-collapsed.
func Text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// Env is a real Inspector watching a throwaway redis-server, and a client playing
// the app.
type Env struct {
	Srv *redistest.Server
	RDB *redis.Client
	In  *inspector.Inspector
	// Matcher is the inspector's framework table.
	Matcher *framework.Matcher
}

// Options tune StartInspector.
type Options struct {
	Redis   redistest.Options
	Tracker tracker.Config
	// Frameworks is the framework table the inspector matches keys with, as the
	// command line builds it from --prefix; nil: the builtin table.
	Frameworks []framework.Framework
}

// StartInspector starts redis-server, attaches an Inspector and runs it until the
// test ends. It waits until the inventory is done, so events that follow are live.
func StartInspector(t testing.TB, opts Options) *Env {
	t.Helper()
	srv := redistest.Start(t, opts.Redis)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	fws := opts.Frameworks
	if fws == nil {
		fws = framework.Builtin()
	}
	matcher := framework.NewMatcher(fws)
	ctx, cancel := context.WithCancel(context.Background())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: matcher})
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	tcfg := opts.Tracker
	tcfg.Matcher = matcher
	in := inspector.New(store, inspector.Config{Tracker: tcfg})
	runDone := make(chan error, 1)
	go func() { runDone <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("inspector run: %v", err)
		}
		_ = store.Close()
	})
	env := &Env{Srv: srv, RDB: rdb, In: in, Matcher: matcher}
	WaitFor(t, "inventory done", func() bool {
		inv := in.Status().Last.Inventory
		return inv != nil && inv.Done
	})
	return env
}

// Do runs one Redis command as the app would.
func (e *Env) Do(t testing.TB, args ...any) {
	t.Helper()
	if err := e.RDB.Do(context.Background(), args...).Err(); err != nil && err != redis.Nil {
		t.Fatalf("redis %v: %v", args, err)
	}
}

// RefOfKey is the ref of a session key under the builtin framework table.
func RefOfKey(key string) string {
	m, ok := framework.NewMatcher(framework.Builtin()).Match(key)
	if !ok {
		panic("not a session key: " + key)
	}
	return model.Ref(m.StoreID)
}

// WaitEvent waits until the inspector's ring holds an event of kind for ref and
// returns it.
func (e *Env) WaitEvent(t testing.TB, kind model.Kind, ref string) *model.Event {
	t.Helper()
	var found *model.Event
	WaitFor(t, string(kind)+" event for "+ref, func() bool {
		objs, _ := e.In.Since(0, 0)
		for _, o := range objs {
			if ev, ok := o.(*model.Event); ok && ev.Kind == kind && ev.Session != nil && ev.Session.Ref == ref {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// WaitFor polls cond until it holds. The deadline only guards against a hang; no test
// asserts on how long anything took.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
