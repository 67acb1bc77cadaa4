package tracker_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// These benchmarks need no Redis: raw events are fed straight into the tracker's feed,
// and payload reads are answered by benchStore from canned PHP sessions. The Redis end
// to end numbers come from cmd/ssbench.

// benchStore is an in-memory backend.Store whose reads return canned php-handler
// sessions of about 500 bytes, so the tracker's read, decode and compare path runs.
type benchStore struct {
	payloads [][]byte
	reads    atomic.Int64
}

func newBenchStore() *benchStore {
	s := &benchStore{}
	for i := 0; i < 64; i++ {
		s.payloads = append(s.payloads, []byte(benchPayload(i)))
	}
	return s
}

// benchPayload is a realistic PHP session: CSRF token, user, roles, cart, last page.
// Variant i changes the token, the activity time and the cart, as a request would.
func benchPayload(i int) string {
	csrf := fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
	page := fmt.Sprintf("/products/%06d?ref=search", 100000+i*7919%900000)
	cart := ""
	for j := 0; j < 3; j++ {
		cart += fmt.Sprintf(`i:%d;a:3:{s:3:"sku";s:8:"SKU-%04d";s:3:"qty";i:%d;s:5:"price";d:19.99;}`, j, 1000+(i*31+j*17)%9000, 1+(i+j)%9)
	}
	return fmt.Sprintf(`csrf|s:32:"%s";user_id|i:4242;username|s:20:"u0004242@example.org";logged_in|b:1;`+
		`roles|a:2:{i:0;s:4:"user";i:1;s:8:"customer";}locale|s:5:"en_GB";last_activity|i:%d;`+
		`cart|a:3:{%s}last_page|s:%d:"%s";flash|a:0:{}prefs|s:44:"theme=dark&tz=Europe/Berlin&currency=EUR&nl=1";`,
		csrf, 1700000000+i, cart, len(page), page)
}

func (s *benchStore) Name() string     { return "bench" }
func (s *benchStore) Describe() string { return "in-memory benchmark store" }

// Run implements backend.Store; the benchmarks feed the tracker themselves.
func (s *benchStore) Run(ctx context.Context, _ backend.Feed) error {
	<-ctx.Done()
	return nil
}

// Read implements backend.Store.
func (s *benchStore) Read(_ context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	out := make([]backend.ReadResult, len(reqs))
	for i, r := range reqs {
		p := s.payloads[int(s.reads.Add(1))%len(s.payloads)]
		out[i] = backend.ReadResult{Key: r.Key, Exists: true, Size: len(p), TTL: 1440 * time.Second, TTLOnly: r.TTLOnly}
		if !r.TTLOnly {
			out[i].Data = p
		}
	}
	return out
}

// benchTracker is a running tracker with a hub subscriber that drains every object, as
// the dashboard or the NDJSON writer would.
type benchTracker struct {
	tr      *tracker.Tracker
	store   *benchStore
	feed    backend.Feed
	cancel  context.CancelFunc
	runDone chan struct{}
	subDone chan struct{}
	sub     *stream.Subscription
}

func startBenchTracker(cfg tracker.Config) *benchTracker {
	cfg.Matcher = framework.NewMatcher(framework.Builtin())
	hub := stream.NewBroadcaster()
	store := newBenchStore()
	bt := &benchTracker{
		tr:      tracker.New(cfg, store, hub, diagnose.NewEngine(diagnose.Config{Window: cfg.Window})),
		store:   store,
		feed:    backend.NewFeed(1 << 16),
		runDone: make(chan struct{}),
		subDone: make(chan struct{}),
		sub:     hub.Subscribe(1 << 16),
	}
	go func() {
		defer close(bt.subDone)
		for range bt.sub.C() {
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	bt.cancel = cancel
	go func() {
		defer close(bt.runDone)
		_ = bt.tr.Run(ctx, bt.feed)
	}()
	// The store has been listed: ends no longer need tombstones.
	bt.feed.Status <- model.Status{Type: model.TypeStatus, Time: time.Now(), Backend: "bench", State: model.StateLive,
		Inventory: &model.Inventory{Done: true}}
	return bt
}

// waitRaw waits until the tracker has taken in n raw events.
func (bt *benchTracker) waitRaw(b *testing.B, n int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for bt.tr.Stats().RawEvents.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("tracker took in %d of %d raw events in 5 minutes", bt.tr.Stats().RawEvents.Load(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// stop cancels the tracker, which emits everything still pending, and waits for it.
func (bt *benchTracker) stop() {
	bt.cancel()
	<-bt.runDone
	bt.sub.Cancel()
	<-bt.subDone
}

const benchSessions = 100_000

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("PHPREDIS_SESSION:%026x", uint64(i)*0x9e3779b97f4a7c15)
	}
	return keys
}

// BenchmarkTrackerIngest feeds SETEX notifications (OpSet then OpExpire on the same key,
// as Redis publishes them) for 100k sessions round-robin, and measures how many raw
// events per second the tracker goroutine sustains, with the correlation window,
// payload reads within the budget, event building, rules and publishing included. One
// op is one SETEX (two raw events). Run with -benchtime=1000000x for a steady state.
func BenchmarkTrackerIngest(b *testing.B) {
	for _, bc := range []struct {
		name   string
		budget float64
	}{
		{"budget=1000", 0}, // the default: most writes are classified without a read
		{"budget=inf", -1}, // every write read and decoded (as far as the read pipeline keeps up)
	} {
		b.Run(bc.name, func(b *testing.B) {
			keys := benchKeys(benchSessions)
			bt := startBenchTracker(tracker.Config{ReadBudget: bc.budget})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k := keys[i%len(keys)]
				now := time.Now()
				bt.feed.Raw <- backend.RawEvent{Time: now, Op: backend.OpSet, Key: k, Node: "bench"}
				bt.feed.Raw <- backend.RawEvent{Time: now, Op: backend.OpExpire, Key: k, Node: "bench"}
			}
			bt.waitRaw(b, 2*int64(b.N))
			bt.stop()
			b.StopTimer()
			st := bt.tr.Stats()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(2*b.N)/sec, "raw-events/s")
			b.ReportMetric(float64(st.Emitted.Load())/sec, "events/s")
			b.ReportMetric(float64(st.Emitted.Load())/float64(b.N), "events/op")
			b.ReportMetric(float64(st.Reads.Load())/float64(b.N), "reads/op")
		})
	}
}

// BenchmarkSessionTableMemory measures the heap a tracked session costs, payload cache
// excluded (PayloadCacheBytes=1 keeps at most one decoded payload), for 100k sessions
// that come from the inventory (SCAN) or are created live (new+set+expire, as a SETEX
// of a new key publishes them). The baseline is taken after a warm-up of 20k sessions,
// so that fixed costs (the feed, the subscriber's queue, the hub's ring of recent
// objects, the pending maps at their steady size) are not counted per session. Key
// strings are allocated one by one, as the network reader does, and count as the
// table's. Run with -benchtime=1x: one op builds the whole table.
func BenchmarkSessionTableMemory(b *testing.B) {
	for _, source := range []string{"inventory", "live"} {
		b.Run("source="+source, func(b *testing.B) {
			var perSession float64
			for i := 0; i < b.N; i++ {
				perSession = sessionTableBytes(b, source)
			}
			b.ReportMetric(perSession, "bytes/session")
		})
	}
}

const warmupSessions = 20_000

func sessionTableBytes(b *testing.B, source string) float64 {
	b.StopTimer()
	// A 1 ms window (instead of 300 ms) lets live sessions leave the pending maps
	// quickly; it does not change what a tracked session holds.
	bt := startBenchTracker(tracker.Config{PayloadCacheBytes: 1, Window: time.Millisecond})
	defer bt.stop()
	addSessions(b, bt, source, 0, warmupSessions)
	before := heapAfterGC()
	b.StartTimer()
	addSessions(b, bt, source, warmupSessions, benchSessions)
	b.StopTimer()
	after := heapAfterGC()
	n := bt.tr.SessionCount() - warmupSessions
	runtime.KeepAlive(bt)
	return (float64(after) - float64(before)) / float64(n)
}

// addSessions creates sessions from..from+n and waits until the tracker holds them all.
func addSessions(b *testing.B, bt *benchTracker, source string, from, n int) {
	const prefix = "PHPREDIS_SESSION:"
	now := time.Now()
	switch source {
	case "inventory":
		for lo := from; lo < from+n; lo += 1000 { // SCAN pages of 1000 keys
			items := make([]backend.InventoryItem, 0, 1000)
			for i := lo; i < lo+1000 && i < from+n; i++ {
				items = append(items, backend.InventoryItem{Key: prefix + fmt.Sprintf("%026d", i), Node: "bench",
					TTL: 1440 * time.Second, Size: 500, Read: now})
			}
			bt.feed.Inventory <- items
		}
	case "live":
		emitted0 := bt.tr.Stats().Emitted.Load()
		for i := from; i < from+n; i++ {
			k := prefix + fmt.Sprintf("%026d", i)
			at := time.Now()
			bt.feed.Raw <- backend.RawEvent{Time: at, Op: backend.OpNew, Key: k, Node: "bench"}
			bt.feed.Raw <- backend.RawEvent{Time: at, Op: backend.OpSet, Key: k, Node: "bench"}
			bt.feed.Raw <- backend.RawEvent{Time: at, Op: backend.OpExpire, Key: k, Node: "bench"}
			// Keep the sessions waiting in their window to a few thousand, as a steady
			// write rate would: the pending maps keep their peak size, and a one-shot
			// burst of 100k births would be counted as table memory.
			for j := 0; i%1000 == 999 && j < 10_000 && int64(i+1-from)-(bt.tr.Stats().Emitted.Load()-emitted0) > 5000; j++ {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for bt.tr.SessionCount() < from+n {
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d sessions tracked after a minute, want %d", source, bt.tr.SessionCount(), from+n)
		}
		time.Sleep(time.Millisecond)
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
