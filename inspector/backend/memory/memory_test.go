package memory

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

const (
	idA = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	idB = "u8k1n4c2p6r0s3t5v7a9b1d34t"
	idC = "c0ffee11c0ffee22c0ffee33ab"
	idD = "d00d00d00d00d00d00d00d00dd"
)

func TestLifecycleThroughInspector(t *testing.T) {
	s := New(Options{})
	w := newWatch(t, s)
	w.WaitLive()
	a := phpKey(idA)

	s.Set("", a, phpSession("ada"), 1440*time.Second)
	ev := w.WaitEvent(model.KindCreated, a)
	if ev.Session.Framework != "php" || ev.TTL == nil || *ev.TTL < 1430 || ev.Backend != "memory" {
		t.Errorf("created: framework %q ttl %v backend %q; want php, about 1440 s, memory", ev.Session.Framework, ev.TTL, ev.Backend)
	}

	s.Set("", a, phpSession("bob"), 1440*time.Second)
	ev = w.WaitEvent(model.KindUpdated, a)
	if !slices.Equal(ev.Changed, []string{"user"}) {
		t.Errorf("updated: changed %v, want [user]", ev.Changed)
	}

	if !s.Expire("", a, 600*time.Second) {
		t.Fatal("Expire of an existing key reported false")
	}
	w.WaitEvent(model.KindTouched, a)

	if !s.Del("", a) {
		t.Fatal("Del of an existing key reported false")
	}
	w.WaitEvent(model.KindDestroyed, a)
	if s.Del("", a) {
		t.Error("Del of a missing key reported true")
	}
}

func TestExpiry(t *testing.T) {
	s := New(Options{})
	w := newWatch(t, s)
	w.WaitLive()

	t.Run("active", func(t *testing.T) {
		k := phpKey(idA)
		s.Set("", k, phpSession("ada"), 150*time.Millisecond)
		w.WaitEvent(model.KindCreated, k)
		w.WaitEvent(model.KindExpired, k) // nobody touches the key: the expiry loop must
		if _, ok := s.Get("", k); ok {
			t.Error("an expired key is still readable")
		}
	})

	t.Run("expire 0 deletes", func(t *testing.T) {
		k := phpKey(idB)
		s.Set("", k, phpSession("bob"), time.Hour)
		w.WaitEvent(model.KindCreated, k)
		s.Expire("", k, 0)
		w.WaitEvent(model.KindDestroyed, k)
	})
}

// TestClockMoved runs the store on a clock ahead of the wall clock: a jump past a
// key's TTL expires it at once, while its events keep the wall clock's time.
func TestClockMoved(t *testing.T) {
	var mu sync.Mutex
	var ahead time.Duration
	s := New(Options{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(ahead)
	}})
	w := newWatch(t, s)
	w.WaitLive()
	k := phpKey(idA)
	s.Set("", k, phpSession("ada"), time.Hour)
	created := w.WaitEvent(model.KindCreated, k)
	if ttl, ok := s.TTL("", k); !ok || ttl <= 59*time.Minute {
		t.Fatalf("TTL = %v, %v before the jump; want about an hour", ttl, ok)
	}
	mu.Lock()
	ahead = 2 * time.Hour
	mu.Unlock()
	s.ClockMoved()
	if _, ok := s.TTL("", k); ok {
		t.Error("the key outlived a jump past its TTL")
	}
	expired := w.WaitEvent(model.KindExpired, k)
	if gap := expired.Time.Sub(created.Time); gap < 0 || gap > time.Hour {
		t.Errorf("expired %v after created: events must carry the wall clock, not the store's", gap)
	}
}

// TestLazyExpiry checks the access path on its own: without Run there is no expiry
// loop, so only Get can notice the passed deadline.
func TestLazyExpiry(t *testing.T) {
	s := New(Options{})
	k := phpKey(idA)
	s.Set("", k, phpSession("ada"), time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := s.Get("", k); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a key with a 1 ms TTL was still readable after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s.Len("") != 0 {
		t.Errorf("Len = %d after lazy expiry, want 0", s.Len(""))
	}
	if _, ok := s.TTL("", k); ok {
		t.Error("TTL of an expired key reported ok")
	}
}

func TestEviction(t *testing.T) {
	// Room for about three sessions: the fourth evicts the least recently used.
	payload := make([]byte, 200)
	one := int64(len(phpKey(idA)) + len(payload) + KeyOverhead)
	s := New(Options{MaxBytes: 3*one + one/2})
	w := newWatch(t, s)
	w.WaitLive()

	a, b, c, d := phpKey(idA), phpKey(idB), phpKey(idC), phpKey(idD)
	for _, k := range []string{a, b, c} {
		s.Set("", k, payload, time.Hour)
		w.WaitEvent(model.KindCreated, k)
	}
	if _, ok := s.Get("", a); !ok { // a is now more recently used than b
		t.Fatal("a vanished before the store was full")
	}
	s.Set("", d, payload, time.Hour)
	w.WaitEvent(model.KindEvicted, b)
	w.WaitEvent(model.KindCreated, d)
	if _, ok := s.Get("", b); ok {
		t.Error("the evicted key is still readable")
	}
	for _, k := range []string{a, c, d} {
		if _, ok := s.Get("", k); !ok {
			t.Errorf("%s was evicted; only the least recently used key should be", k)
		}
	}
}

func TestNodeKeyspaces(t *testing.T) {
	s := New(Options{})
	w := newWatch(t, s)
	w.WaitLive()
	a := phpKey(idA)

	s.Set("node-a", a, phpSession("ada"), time.Hour)
	ev := w.WaitEvent(model.KindCreated, a)
	if ev.Node != "node-a" {
		t.Errorf("created on node-a: event node %q", ev.Node)
	}
	if _, ok := s.Get("node-b", a); ok {
		t.Error("node-b sees a session node-a keeps locally")
	}
	if _, ok := s.Get("", a); ok {
		t.Error("the shared keyspace sees a session node-a keeps locally")
	}
	if v, ok := s.Get("node-a", a); !ok || string(v) != string(phpSession("ada")) {
		t.Errorf("node-a reads %q, %v", v, ok)
	}

	// The tracker reads by key alone and must find the node-local copy.
	res := s.Read(context.Background(), []backend.ReadRequest{{Key: a}})
	if !res[0].Exists || string(res[0].Data) != string(phpSession("ada")) {
		t.Errorf("Read of a node-local key: %+v", res[0])
	}

	// Two keyspaces with one key: Read answers with the latest write.
	s.Set("node-b", a, phpSession("bob"), time.Hour)
	res = s.Read(context.Background(), []backend.ReadRequest{{Key: a}})
	if string(res[0].Data) != string(phpSession("bob")) {
		t.Errorf("Read with two copies = %q, want the latest write (bob)", res[0].Data)
	}
	s.Del("node-a", a)
	ev = w.WaitEvent(model.KindDestroyed, a)
	if ev.Node != "node-a" {
		t.Errorf("destroyed on node-a: event node %q", ev.Node)
	}
}

func TestInventory(t *testing.T) {
	s := New(Options{})
	a, b := phpKey(idA), phpKey(idB)
	// Written before anyone watches: state, reported by the inventory, not as events.
	s.Set("", a, phpSession("ada"), time.Hour)
	s.Set("node-b", b, phpSession("bob"), 0)
	s.Set("", "cache:not-a-session", []byte("x"), 0)
	s.Set("", phpKey(idC), phpSession("gone"), time.Nanosecond) // expired before Run

	w := newWatch(t, s)
	st := w.WaitLive()
	if st.Inventory.Sessions != 2 || st.Backend != "memory" {
		t.Errorf("inventory %+v backend %q; want 2 sessions, memory", st.Inventory, st.Backend)
	}
	if st.Notifications == nil || st.Notifications.Flags != Notifications || st.Notifications.Missing != "" {
		t.Errorf("notifications %+v; want flags %q and nothing missing", st.Notifications, Notifications)
	}
	if n := w.in.SessionCount(); n != 2 {
		t.Errorf("SessionCount = %d, want 2", n)
	}
	for _, e := range w.events(nil) {
		t.Errorf("pre-existing keys produced an event: %s", e)
	}

	// An inventoried session ends like any other.
	s.Del("node-b", b)
	w.WaitEvent(model.KindDestroyed, b)
}

func TestRead(t *testing.T) {
	s := New(Options{MaxPayloadBytes: 8})
	a, b := phpKey(idA), phpKey(idB)
	s.Set("", a, phpSession("ada"), time.Hour)
	s.Set("", b, phpSession("bob"), 0)
	spring := "spring:session:sessions:" + idC
	s.Set("", spring, []byte("x"), 0)

	res := s.Read(context.Background(), []backend.ReadRequest{
		{Key: a, MaxBytes: 1024},
		{Key: b}, // default cap: 8 bytes
		{Key: a, TTLOnly: true},
		{Key: phpKey(idD)},
		{Key: spring, Type: framework.KeyHash},
	})
	if len(res) != 5 {
		t.Fatalf("%d results for 5 requests", len(res))
	}
	full := string(phpSession("ada"))
	if r := res[0]; !r.Exists || string(r.Data) != full || r.Size != len(full) || r.Truncated || r.TTL <= 59*time.Minute || r.TTL > time.Hour {
		t.Errorf("full read: %+v", r)
	}
	if r := res[1]; !r.Exists || len(r.Data) != 8 || !r.Truncated || r.Size != len(phpSession("bob")) || r.TTL != -1 {
		t.Errorf("capped read of a key without TTL: %+v", r)
	}
	if r := res[2]; !r.Exists || !r.TTLOnly || r.Data != nil || r.TTL <= 0 {
		t.Errorf("TTL-only read: %+v", r)
	}
	if r := res[3]; r.Exists || r.Err != nil {
		t.Errorf("missing key: %+v", r)
	}
	if r := res[4]; r.Err == nil {
		t.Errorf("hash read of a string: want an error, got %+v", r)
	}
}

func TestTTL(t *testing.T) {
	s := New(Options{})
	a := phpKey(idA)
	if _, ok := s.TTL("", a); ok {
		t.Error("TTL of a missing key reported ok")
	}
	s.Set("", a, phpSession("ada"), 0)
	if ttl, ok := s.TTL("", a); !ok || ttl != -1 {
		t.Errorf("TTL without expiry = %v, %v; want -1, true", ttl, ok)
	}
	s.Expire("", a, time.Minute)
	if ttl, ok := s.TTL("", a); !ok || ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL after Expire(1m) = %v, %v", ttl, ok)
	}
	s.Set("", a, phpSession("ada"), 0) // SET clears the TTL, as in Redis
	if ttl, _ := s.TTL("", a); ttl != -1 {
		t.Errorf("TTL after a SET without TTL = %v, want -1", ttl)
	}
}

func TestRunTwice(t *testing.T) {
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	feed := backend.NewFeed(16)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, feed) }()
	<-feed.Status // Run holds the stream once it reports
	if err := s.Run(context.Background(), backend.NewFeed(16)); err != ErrRunning {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestOverflowIsAGap: a consumer that does not read never slows writers; the lost
// events come back as one gap once there is room.
func TestOverflowIsAGap(t *testing.T) {
	s := New(Options{})
	feed := backend.NewFeed(4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, feed) }()
	waitStatus(t, feed, func(st model.Status) bool { return st.Inventory != nil && st.Inventory.Done })
	for i := range 100 {
		s.Set("", phpKey(idA), phpSession(string(rune('a'+i%26))), time.Hour)
	}
	var sawGap bool
	limit := time.After(20 * time.Second)
	for !sawGap {
		select {
		case ev := <-feed.Raw:
			sawGap = ev.Op == backend.OpGap && ev.Gap != nil && ev.Gap.Dropped > 0
		case <-limit:
			t.Fatal("no gap event within 20 s after an overflow")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func waitStatus(t *testing.T, feed backend.Feed, pred func(model.Status) bool) {
	t.Helper()
	limit := time.After(20 * time.Second)
	for {
		select {
		case st := <-feed.Status:
			if pred(st) {
				return
			}
		case <-limit:
			t.Fatal("no matching status within 20 s")
		}
	}
}

// TestConcurrent exercises every entry point at once for the race detector.
func TestConcurrent(t *testing.T) {
	s := New(Options{MaxBytes: 4 << 10})
	w := newWatch(t, s)
	w.WaitLive()
	ids := []string{idA, idB, idC, idD}
	var done = make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			node := []string{"", "n1"}[g%2]
			for i := range 300 {
				k := phpKey(ids[(g+i)%len(ids)])
				switch i % 5 {
				case 0, 1:
					s.Set(node, k, phpSession("x"), time.Duration(1+i%3)*time.Millisecond*10)
				case 2:
					s.Get(node, k)
				case 3:
					s.Expire(node, k, time.Second)
				case 4:
					s.Del(node, k)
				}
				s.Read(context.Background(), []backend.ReadRequest{{Key: k}})
			}
		}()
	}
	for range 4 {
		<-done
	}
}
