package labstore

import (
	"context"
	"errors"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// subject is one SessionStore under test, with the watched store behind it.
type subject struct {
	store   SessionStore
	watched backend.Store
	srv     *redistest.Server // nil for the memory store
}

func subjects(t *testing.T) map[string]func(t *testing.T) subject {
	return map[string]func(t *testing.T) subject{
		"memory": func(t *testing.T) subject {
			m := memory.New(memory.Options{})
			return subject{store: NewMemory(m), watched: m}
		},
		"redis": func(t *testing.T) subject {
			srv := redistest.Start(t, redistest.Options{})
			r, err := NewRedis(context.Background(), srv.URL())
			if err != nil {
				t.Fatalf("NewRedis: %v", err)
			}
			t.Cleanup(func() { _ = r.Close() })
			w, err := redisstore.Open(context.Background(), redisstore.Config{URL: srv.URL(),
				Matcher: framework.NewMatcher(framework.Builtin())})
			if err != nil {
				t.Fatalf("open watcher: %v", err)
			}
			t.Cleanup(func() { _ = w.Close() })
			return subject{store: r, watched: w, srv: srv}
		},
	}
}

const (
	id1 = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	id2 = "u8k1n4c2p6r0s3t5v7a9b1d34t"
)

func TestSessionStore(t *testing.T) {
	ctx := context.Background()
	for name, open := range subjects(t) {
		t.Run(name, func(t *testing.T) {
			sub := open(t)
			st := sub.store
			if st.Key(id1) != "PHPREDIS_SESSION:"+id1 {
				t.Errorf("Key = %q", st.Key(id1))
			}
			if st.Describe() == "" {
				t.Error("empty Describe")
			}

			if _, ok, err := st.Load(ctx, "", id1); ok || err != nil {
				t.Errorf("Load of a missing session: ok %v err %v", ok, err)
			}
			in := Session{"user": "Zoë", "uid": int64(7), "auth": true}
			if err := st.Save(ctx, "", id1, in, time.Hour); err != nil {
				t.Fatalf("Save: %v", err)
			}
			out, ok, err := st.Load(ctx, "", id1)
			if !ok || err != nil || !reflect.DeepEqual(out, in) {
				t.Errorf("Load = %v, %v, %v; want %v", out, ok, err, in)
			}
			if err := st.Touch(ctx, "", id1, 2*time.Hour); err != nil {
				t.Errorf("Touch: %v", err)
			}
			if err := st.Touch(ctx, "", id2, time.Hour); !errors.Is(err, ErrNotFound) {
				t.Errorf("Touch of a missing session: %v, want ErrNotFound", err)
			}
			if err := st.Touch(ctx, "", id1, 0); err == nil {
				t.Error("Touch with ttl 0 succeeded")
			}
			if err := st.Save(ctx, "", "", in, time.Hour); err == nil {
				t.Error("Save with an empty id succeeded")
			}
			if err := st.Save(ctx, "", id2, Session{"bad|name": "x"}, time.Hour); err == nil {
				t.Error("Save of an unencodable session succeeded")
			}
			if err := st.Destroy(ctx, "", id1); err != nil {
				t.Errorf("Destroy: %v", err)
			}
			if _, ok, _ := st.Load(ctx, "", id1); ok {
				t.Error("Load after Destroy found the session")
			}
			if err := st.Destroy(ctx, "", id1); err != nil {
				t.Errorf("Destroy of a missing session: %v", err)
			}
		})
	}
}

func TestNodeLocal(t *testing.T) {
	ctx := context.Background()
	for name, open := range subjects(t) {
		t.Run(name, func(t *testing.T) {
			st := open(t).store
			if err := st.Save(ctx, "node-a", id1, Session{"user": "ada"}, time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := st.Load(ctx, "node-b", id1); ok {
				t.Error("node-b sees node-a's local session")
			}
			if _, ok, _ := st.Load(ctx, "", id1); ok {
				t.Error("the shared view sees node-a's local session")
			}
			if err := st.Touch(ctx, "node-b", id1, time.Hour); !errors.Is(err, ErrNotFound) {
				t.Errorf("Touch from node-b: %v, want ErrNotFound", err)
			}
			if err := st.Destroy(ctx, "node-b", id1); err != nil {
				t.Errorf("Destroy from node-b: %v", err)
			}
			if s, ok, _ := st.Load(ctx, "node-a", id1); !ok || s.String("user") != "ada" {
				t.Errorf("node-a lost its session (%v, %v) after node-b's calls", s, ok)
			}
		})
	}
}

// TestCommandsAsPHPRedis checks the raw keyspace events each store hands sessionscope
// for the lab's calls: those of phpredis' SETEX, EXPIRE and DEL, on both stores.
func TestCommandsAsPHPRedis(t *testing.T) {
	ctx := context.Background()
	want := []string{
		"new", "set", "expire", // Save of a new session: SETEX
		"set", "expire", // Save again
		"expire",     // Touch: EXPIRE
		"del",        // Destroy: DEL
		"new", "set", // Save without a TTL: SET
		"del",
	}
	for name, open := range subjects(t) {
		t.Run(name, func(t *testing.T) {
			sub := open(t)
			raw := runFeed(t, sub.watched)
			st := sub.store
			s := Session{"user": "ada"}
			steps := []error{
				st.Save(ctx, "", id1, s, 1440*time.Second),
				st.Save(ctx, "", id1, s, 1440*time.Second),
				st.Touch(ctx, "", id1, 1440*time.Second),
				st.Destroy(ctx, "", id1),
				st.Save(ctx, "", id2, s, 0),
				st.Destroy(ctx, "", id2),
			}
			for i, err := range steps {
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if got := raw(len(want)); !slices.Equal(got, want) {
				t.Errorf("raw events %v, want %v", got, want)
			}
		})
	}
}

// runFeed runs store until the test ends and returns a function collecting n raw ops.
func runFeed(t *testing.T, store backend.Store) func(n int) []string {
	t.Helper()
	feed := backend.NewFeed(1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Run(ctx, feed) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	limit := time.After(20 * time.Second)
	for live := false; !live; {
		select {
		case st := <-feed.Status:
			live = st.State == model.StateLive && st.Inventory != nil && st.Inventory.Done
		case <-limit:
			t.Fatal("the store did not go live within 20 s")
		}
	}
	return func(n int) []string {
		var ops []string
		limit := time.After(20 * time.Second)
		for len(ops) < n {
			select {
			case ev := <-feed.Raw:
				ops = append(ops, ev.Op.String())
			case <-limit:
				t.Fatalf("only %d raw events within 20 s: %v", len(ops), ops)
			}
		}
		return ops
	}
}

// TestRedisPayloadDecodes: what the Redis store writes is a phpredis session that
// sessionscope's decoder reads, with a TTL set by SETEX.
func TestRedisPayloadDecodes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	r, err := NewRedis(context.Background(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Save(context.Background(), "", id1, Session{"user": "Zoë", "uid": 7, "auth": true}, 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	raw := srv.Do(t, "GET", Key(id1))
	if raw != `auth|b:1;uid|i:7;user|s:4:"Zoë";` {
		t.Errorf("stored payload %q", raw)
	}
	p, err := codec.Decode(codec.FormatAuto, []byte(raw), codec.Limits{})
	if err != nil || p.Format != codec.FormatPHP {
		t.Fatalf("codec.Decode: %v (format %v)", err, p)
	}
	if v, ok := p.Lookup("user"); !ok || v.Str != "Zoë" {
		t.Errorf("user = %+v", v)
	}
	if ttl, _ := strconv.Atoi(srv.Do(t, "TTL", Key(id1))); ttl <= 0 || ttl > 1440 {
		t.Errorf("TTL = %d, want (0, 1440]", ttl)
	}
	// A sub-second TTL stays exact (PSETEX), where SETEX would round it.
	if err := r.Save(context.Background(), "", id2, Session{}, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if pttl, _ := strconv.Atoi(srv.Do(t, "PTTL", Key(id2))); pttl <= 1000 || pttl > 1500 {
		t.Errorf("PTTL after a 1.5 s Save = %d", pttl)
	}
}

func TestNewRedisUnreachable(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := "redis://:secret@" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/0"
	_, err = NewRedis(context.Background(), url)
	if !errors.Is(err, redisstore.ErrConnect) {
		t.Fatalf("NewRedis to a closed port: %v, want ErrConnect", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "connection refused") || strings.Contains(msg, "secret") {
		t.Errorf("error %q should say the connection was refused and hide the password", msg)
	}
	if _, err := NewRedis(context.Background(), "http://nope"); !errors.Is(err, redisstore.ErrConnect) {
		t.Errorf("malformed URL: %v, want ErrConnect", err)
	}
}

func TestMemoryLimitsAndFill(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		args    []string
		evicts  bool
		fillErr bool
	}{
		{"no maxmemory", nil, false, false},
		{"noeviction", []string{"--maxmemory", "4mb", "--maxmemory-policy", "noeviction"}, false, true},
		{"allkeys-lru", []string{"--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{Args: tc.args})
			r, err := NewRedis(ctx, srv.URL())
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			lim, err := r.MemoryLimits(ctx)
			if err != nil {
				t.Fatalf("MemoryLimits: %v", err)
			}
			if lim.Evicts() != tc.evicts || lim.UsedMemory <= 0 {
				t.Errorf("limits %+v: Evicts %v, want %v", lim, lim.Evicts(), tc.evicts)
			}
			if why := lim.Why(); tc.evicts != (why == "") || !tc.evicts && !strings.Contains(why, EvictionHint) {
				t.Errorf("Why = %q", why)
			}
			if tc.args == nil {
				// Without a limit Fill just writes: check the count, not memory effects.
				if err := r.Fill(ctx, 1200, 256); err != nil {
					t.Fatalf("Fill: %v", err)
				}
				if n := srv.Do(t, "DBSIZE"); n != "1200" {
					t.Errorf("DBSIZE after Fill(1200) = %s", n)
				}
				return
			}
			// About 8 MB of sessions into a 4 MB Redis.
			err = r.Fill(ctx, 4000, 2048)
			if tc.fillErr {
				if err == nil || !strings.Contains(err.Error(), EvictionHint) {
					t.Errorf("Fill into a full noeviction Redis: %v; want an OOM error with the hint", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fill: %v", err)
			}
			if info := srv.Do(t, "INFO", "stats"); !strings.Contains(info, "evicted_keys:") || strings.Contains(info, "evicted_keys:0\r") {
				t.Errorf("no evictions after filling a 4 MB allkeys-lru Redis with 8 MB")
			}
		})
	}
}

// TestFillCacheEvictsSessions: cache entries that fill an allkeys-lru Redis push out
// the session written before them, and are themselves no sessions.
func TestFillCacheEvictsSessions(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"}})
	r, err := NewRedis(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Save(ctx, "", id1, Session{"user": "ada"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	// Redis' LRU clock has a one-second resolution: without a pause the session is as
	// recent as the cache and whether it goes is chance.
	time.Sleep(2500 * time.Millisecond)
	if err := r.FillCache(ctx, 4000, 2048); err != nil {
		t.Fatalf("FillCache: %v", err)
	}
	if _, ok, err := r.Load(ctx, "", id1); ok || err != nil {
		t.Errorf("the session survived 8 MB of cache in a 4 MB allkeys-lru Redis (ok %v, err %v)", ok, err)
	}
	if _, ok := framework.NewMatcher(framework.Builtin()).Match(CacheKeyPrefix + id2); ok {
		t.Errorf("cache keys %s* look like sessions to sessionscope", CacheKeyPrefix)
	}
}
