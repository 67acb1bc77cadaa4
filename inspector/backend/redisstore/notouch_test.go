package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// The eviction state a read leaves behind, measured on the real server: which of the
// commands sessionscope sends refresh a key's LRU idle time and its LFU counter when
// the connection has no CLIENT NO-TOUCH (Redis before 7.2). README's "What
// sessionscope reads, and never writes" states these results.
var touchCases = []struct {
	cmd     string
	hash    bool
	args    func(key string) []any
	touches bool
}{
	{"STRLEN", false, func(k string) []any { return []any{"strlen", k} }, true},
	{"GETRANGE", false, func(k string) []any { return []any{"getrange", k, 0, 63} }, true},
	{"HGETALL", true, func(k string) []any { return []any{"hgetall", k} }, true},
	{"HLEN", true, func(k string) []any { return []any{"hlen", k} }, true},
	{"PTTL", false, func(k string) []any { return []any{"pttl", k} }, false},
	{"TYPE", false, func(k string) []any { return []any{"type", k} }, false},
	{"SCAN", false, func(k string) []any { return []any{"scan", 0, "match", k, "count", 1000} }, false},
}

// plainClient is a connection without CLIENT NO-TOUCH, as a pre-7.2 server gives.
func plainClient(t *testing.T, srv *redistest.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func objectInt(t *testing.T, c *redis.Client, sub, key string) int64 {
	t.Helper()
	n, err := c.Do(context.Background(), "object", sub, key).Int64()
	if err != nil {
		t.Fatalf("OBJECT %s %s: %v", sub, key, err)
	}
	return n
}

// waitIdle waits until every key has been idle for at least secs seconds by OBJECT
// IDLETIME (whose clock ticks in seconds).
func waitIdle(t *testing.T, c *redis.Client, secs int64, keys ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		idle := true
		for _, k := range keys {
			if objectInt(t, c, "idletime", k) < secs {
				idle = false
				break
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys %v not idle for %d s within 30 s", keys, secs)
		}
		<-tick.C
	}
}

func setKey(t *testing.T, c *redis.Client, key string, hash bool) {
	t.Helper()
	ctx := context.Background()
	var err error
	if hash {
		err = c.HSet(ctx, key, "creationTime", "1", "lastAccessedTime", "2").Err()
	} else {
		err = c.Set(ctx, key, "user|i:7;", time.Hour).Err()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestWhichReadsTouchLRU(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory-policy", "allkeys-lru"}})
	c := plainClient(t, srv)
	ctx := context.Background()
	keys := make([]string, len(touchCases))
	for i, tc := range touchCases {
		keys[i] = "touch:lru:" + tc.cmd
		setKey(t, c, keys[i], tc.hash)
	}
	waitIdle(t, c, 2, keys...)
	for i, tc := range touchCases {
		t.Run(tc.cmd, func(t *testing.T) {
			before := objectInt(t, c, "idletime", keys[i])
			if err := c.Do(ctx, tc.args(keys[i])...).Err(); err != nil {
				t.Fatal(err)
			}
			after := objectInt(t, c, "idletime", keys[i])
			if touched := after < before; touched != tc.touches {
				t.Errorf("%s: idle time %d s -> %d s: touched %v, want %v", tc.cmd, before, after, touched, tc.touches)
			}
		})
	}
}

func TestWhichReadsTouchLFU(t *testing.T) {
	// lfu-log-factor 0 makes every access count (the counter's increment is otherwise
	// probabilistic); lfu-decay-time 0 keeps it from decaying while the test runs.
	srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory-policy", "allkeys-lfu",
		"--lfu-log-factor", "0", "--lfu-decay-time", "0"}})
	c := plainClient(t, srv)
	ctx := context.Background()
	for _, tc := range touchCases {
		t.Run(tc.cmd, func(t *testing.T) {
			key := "touch:lfu:" + tc.cmd
			setKey(t, c, key, tc.hash)
			before := objectInt(t, c, "freq", key)
			if err := c.Do(ctx, tc.args(key)...).Err(); err != nil {
				t.Fatal(err)
			}
			after := objectInt(t, c, "freq", key)
			if touched := after > before; touched != tc.touches {
				t.Errorf("%s: LFU counter %d -> %d: touched %v, want %v", tc.cmd, before, after, touched, tc.touches)
			}
		})
	}
}

// serverHasNoTouch reports whether the server knows CLIENT NO-TOUCH (7.2+), by asking
// it directly rather than by the code under test.
func serverHasNoTouch(t *testing.T, c *redis.Client) bool {
	t.Helper()
	err := c.Do(context.Background(), "client", "no-touch", "off").Err()
	return err == nil
}

// TestObserverTouch measures what an inventory and poll passes do to the eviction
// state of session keys: nothing where the server has CLIENT NO-TOUCH; on older
// servers the inventory's STRLEN refreshes them (as README says), while poll passes
// after the first read only PTTL for keys whose TTL did not move.
//
// It runs on the distribution's Redis (7.0 on Debian 12: no NO-TOUCH) and on Valkey 8
// (Redis 7.2's protocol: NO-TOUCH), so both branches are measured in CI.
func TestObserverTouch(t *testing.T) {
	for _, server := range []struct {
		name    string
		valkey  bool
		noTouch bool // whether the server must know CLIENT NO-TOUCH; the Redis may be any version
	}{{"redis-server", false, false}, {"valkey-server", true, true}} {
		for _, policy := range []string{"allkeys-lru", "allkeys-lfu"} {
			t.Run(server.name+"/"+policy, func(t *testing.T) {
				observerTouch(t, server.valkey, server.noTouch, policy)
			})
		}
	}
}

func observerTouch(t *testing.T, valkey, mustNoTouch bool, policy string) {
	srv := redistest.Start(t, redistest.Options{Valkey: valkey, Args: []string{"--maxmemory-policy", policy,
		"--lfu-log-factor", "0", "--lfu-decay-time", "0"}})
	c := plainClient(t, srv)
	noTouch := serverHasNoTouch(t, c)
	if mustNoTouch && !noTouch {
		t.Fatalf("the server does not know CLIENT NO-TOUCH")
	}
	lru := policy == "allkeys-lru"
	sessions := []string{"PHPREDIS_SESSION:notouch0session0000001", "sess:notouch0session0000002"}
	const other = "cache:homepage"
	for _, k := range append(sessions, other) {
		setKey(t, c, k, false)
	}
	// Under LRU a key counts as touched when it has been idle for less than ref,
	// an untouched key set no earlier than it: comparing two idle times read
	// together holds however slow the machine is. Under LFU (lfu-log-factor 0)
	// every access raises the counter by one.
	freq := map[string]int64{}
	touched := func(key, ref string) (bool, string) {
		if lru {
			k, r := objectInt(t, c, "idletime", key), objectInt(t, c, "idletime", ref)
			return r-k >= 1, fmt.Sprintf("idle %d s, untouched %s idle %d s", k, ref, r)
		}
		after := objectInt(t, c, "freq", key)
		return after > freq[key], fmt.Sprintf("LFU counter %d -> %d", freq[key], after)
	}
	mark := func(keys ...string) {
		if lru {
			return
		}
		for _, k := range keys {
			freq[k] = objectInt(t, c, "freq", k)
		}
	}
	if lru {
		waitIdle(t, c, 2, append(sessions, other)...)
	} else {
		mark(append(sessions, other)...)
	}

	store := open(t, redisstore.Config{URL: srv.URL(), Mode: redisstore.ModePoll, PollInterval: 50 * time.Millisecond})
	if store.NoTouch() != noTouch {
		t.Fatalf("store.NoTouch() = %v, but the server's CLIENT NO-TOUCH support is %v", store.NoTouch(), noTouch)
	}
	w := watch(t, store)
	w.Wait("the first pass as inventory", func(o model.Object) bool {
		s, ok := o.(*model.Status)
		return ok && s.Inventory != nil && s.Inventory.Done
	})
	for _, k := range sessions {
		if got, how := touched(k, other); got != !noTouch {
			t.Errorf("inventory: %s %s: touched %v, want %v (CLIENT NO-TOUCH available: %v)", k, how, got, !noTouch, noTouch)
		}
	}
	if !lru {
		if got, how := touched(other, other); got {
			t.Errorf("inventory touched %s, which is no session (%s)", other, how)
		}
	}

	// Later passes read PTTL only for keys whose TTL stayed put. Two sessions
	// born one after the other prove passes ran; under LRU the clock key, set
	// now and untouched, must not have been idle longer than the sessions once
	// it has been idle 2 s (passes ran all along).
	mark(sessions...)
	const clock = "cache:clock"
	setKey(t, c, clock, false)
	for _, id := range []string{"notouch0marker0000000001", "notouch0marker0000000002"} {
		setKey(t, c, "PHPREDIS_SESSION:"+id, false)
		w.Wait("created "+id, func(o model.Object) bool {
			ev, ok := o.(*model.Event)
			return ok && ev.Kind == model.KindCreated && ev.Session != nil && ev.Session.Ref == model.Ref(id)
		})
	}
	if lru {
		waitIdle(t, c, 2, clock)
	}
	for _, k := range sessions {
		if got, how := touched(k, clock); got {
			t.Errorf("poll passes touched %s (%s)", k, how)
		}
	}
}
