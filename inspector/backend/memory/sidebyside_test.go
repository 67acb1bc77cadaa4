package memory

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// app is the command side of a store, as a phpredis app drives it.
type app interface {
	set(key string, val []byte, ttl time.Duration) // SETEX; SET PX below a second; SET without TTL
	expire(key string, ttl time.Duration)
	del(key string)
}

type memApp struct{ s *Store }

func (a memApp) set(key string, val []byte, ttl time.Duration) { a.s.Set("", key, val, ttl) }
func (a memApp) expire(key string, ttl time.Duration)          { a.s.Expire("", key, ttl) }
func (a memApp) del(key string)                                { a.s.Del("", key) }

type redisApp struct {
	t   *testing.T
	rdb *redis.Client
}

func (a redisApp) do(args ...any) {
	a.t.Helper()
	if err := a.rdb.Do(context.Background(), args...).Err(); err != nil && err != redis.Nil {
		a.t.Fatalf("redis %v: %v", args, err)
	}
}

func (a redisApp) set(key string, val []byte, ttl time.Duration) {
	switch {
	case ttl <= 0:
		a.do("SET", key, val)
		return
	case ttl%time.Second == 0:
		a.do("SETEX", key, int64(ttl/time.Second), val)
		return
	}
	a.do("SET", key, val, "PX", ttl.Milliseconds())
}
func (a redisApp) expire(key string, ttl time.Duration) { a.do("EXPIRE", key, int64(ttl/time.Second)) }
func (a redisApp) del(key string)                       { a.do("DEL", key) }

// startRedis starts a throwaway redis-server (skipped without one, failed under
// SESSIONSCOPE_REQUIRE_REAL=1), a watching redisstore and an app client.
func startRedis(t *testing.T) (*redisstore.Store, redisApp) {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := redisstore.Open(context.Background(), redisstore.Config{URL: srv.URL(), Matcher: matcher})
	if err != nil {
		t.Fatalf("open redis store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store, redisApp{t: t, rdb: rdb}
}

// TestSameEventsAsRedis is the proof that the memory store emits what Redis emits: the
// same phpredis command sequence, run against a real redis-server and against the
// memory store, each behind a real Inspector, yields the same lifecycle events.
// Each step waits for its event before the next, so the correlation window groups the
// raw events the same way on both sides.
func TestSameEventsAsRedis(t *testing.T) {
	a, b, c, d, e := phpKey(idA), phpKey(idB), phpKey(idC), phpKey(idD), phpKey("e1e1e1e1e1e1e1e1e1e1e1e1e1")
	names := map[string]string{refOf(a): "A", refOf(b): "B", refOf(c): "C", refOf(d): "D", refOf(e): "E"}
	script := func(t *testing.T, w *watch, app app) {
		day := 1440 * time.Second
		app.set(a, phpSession("ada"), day)
		w.WaitEvent(model.KindCreated, a)
		app.set(a, phpSession("ada"), day) // written unchanged
		w.WaitEvent(model.KindTouched, a)
		app.set(a, []byte(`user|s:3:"ada";auth|b:1;`), day)
		w.WaitEvent(model.KindUpdated, a)
		app.expire(a, day) // phpredis lazy write
		w.WaitEvent(model.KindTouched, a)
		// session_regenerate_id(true): DEL old, SETEX new with the same payload.
		app.del(a)
		app.set(b, []byte(`user|s:3:"ada";auth|b:1;`), day)
		w.WaitEvent(model.KindRegenerated, b)
		app.del(b)
		w.WaitEvent(model.KindDestroyed, b)
		app.set(c, phpSession("cy"), 500*time.Millisecond)
		w.WaitEvent(model.KindExpired, c)
		app.set(d, phpSession("dee"), 0) // no server-side expiry
		w.WaitEvent(model.KindCreated, d)
		app.expire(d, 0) // EXPIRE 0 deletes
		w.WaitEvent(model.KindDestroyed, d)
		app.set(e, phpSession("eve"), day)
		w.WaitEvent(model.KindCreated, e)
		app.set(e, phpSession("eve"), 0) // SET without TTL over a key with one
		w.WaitEvent(model.KindTouched, e)
		w.Stop() // flush what is pending
	}

	var got [2][]string
	t.Run("redis", func(t *testing.T) {
		store, app := startRedis(t)
		w := newWatch(t, store)
		w.WaitLive()
		script(t, w, app)
		got[0] = w.events(names)
	})
	t.Run("memory", func(t *testing.T) {
		s := New(Options{})
		w := newWatch(t, s)
		w.WaitLive()
		script(t, w, memApp{s})
		got[1] = w.events(names)
	})
	if t.Failed() || got[0] == nil {
		return
	}
	want := []string{
		"created A", "touched A", "updated A changed auth", "touched A",
		"regenerated B from A (payload)", "destroyed B",
		"created C", "expired C",
		"created D", "destroyed D",
		"created E", "touched E",
	}
	if !slices.Equal(got[0], want) {
		t.Errorf("redis events:\n  %s\nwant:\n  %s", strings.Join(got[0], "\n  "), strings.Join(want, "\n  "))
	}
	if !slices.Equal(got[1], got[0]) {
		t.Errorf("memory events differ from redis:\n memory:\n  %s\n redis:\n  %s", strings.Join(got[1], "\n  "), strings.Join(got[0], "\n  "))
	}
}

// TestSameRawEventsAsRedis compares one level down: the raw keyspace events each store
// hands the tracker for the same commands, op by op.
func TestSameRawEventsAsRedis(t *testing.T) {
	a := phpKey(idA)
	script := func(app app) {
		app.set(a, phpSession("ada"), time.Hour) // new, set, expire
		app.set(a, phpSession("bob"), time.Hour) // set, expire
		app.expire(a, time.Hour)                 // expire
		app.del(a)                               // del
		app.del(a)                               // nothing: the key is gone
		app.expire(a, time.Hour)                 // nothing
		app.set(a, phpSession("cy"), 0)          // new, set
		app.expire(a, 0)                         // del
		app.set(a, phpSession("cy"), 200*time.Millisecond)
		// then expired, from active expiry
	}
	want := []string{"new", "set", "expire", "set", "expire", "expire", "del", "new", "set", "del", "new", "set", "expire", "expired"}

	raw := func(t *testing.T, store backend.Store, app app) []string {
		feed := backend.NewFeed(1024)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- store.Run(ctx, feed) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}()
		waitStatus(t, feed, func(st model.Status) bool { return st.Inventory != nil && st.Inventory.Done })
		script(app)
		var ops []string
		limit := time.After(20 * time.Second)
		for len(ops) < len(want) {
			select {
			case ev := <-feed.Raw:
				ops = append(ops, ev.Op.String())
			case <-limit:
				t.Fatalf("only %d raw events within 20 s: %v", len(ops), ops)
			}
		}
		return ops
	}

	t.Run("redis", func(t *testing.T) {
		store, app := startRedis(t)
		if got := raw(t, store, app); !slices.Equal(got, want) {
			t.Errorf("redis raw events %v, want %v", got, want)
		}
	})
	t.Run("memory", func(t *testing.T) {
		s := New(Options{})
		if got := raw(t, s, memApp{s}); !slices.Equal(got, want) {
			t.Errorf("memory raw events %v, want %v", got, want)
		}
	})
}
