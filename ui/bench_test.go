package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui"
)

// hubSource is a handlers.Source whose objects come from a stream.Broadcaster the benchmark
// publishes into at full speed, standing in for an inspector ingesting a busy store.
type hubSource struct{ hub *stream.Broadcaster }

func (s hubSource) Subscribe(capacity int) *stream.Subscription  { return s.hub.Subscribe(capacity) }
func (s hubSource) Sessions(tracker.Query) (tracker.Page, error) { return tracker.Page{}, nil }
func (s hubSource) Session(string) (tracker.SessionDetail, error) {
	return tracker.SessionDetail{}, tracker.ErrNotFound
}
func (s hubSource) Since(after uint64, limit int) ([]model.Object, bool) {
	return s.hub.Since(after, limit)
}
func (s hubSource) Events(qs ...inspector.EventQuery) []*model.Event {
	objs, _ := s.hub.Since(0, 0)
	return inspector.SelectEvents(objs, qs...)
}
func (s hubSource) Seq() uint64                     { return s.hub.Seq() }
func (s hubSource) Findings() []model.Finding       { return nil }
func (s hubSource) Status() inspector.BackendStatus { return inspector.BackendStatus{Name: "bench"} }

// benchEvent is a realistic feed event: a phpredis session written with a TTL.
func benchEvent(i int) *model.Event {
	ttl, size := int64(1440), 180+i%64
	kind := model.KindUpdated
	if i%4 == 0 {
		kind = model.KindCreated
	}
	id := "q3hg" + strconv.Itoa(100000+i%100000) + "8s1jd2kf0a9c"
	return &model.Event{Type: model.TypeEvent, Time: time.Now(), Kind: kind, Backend: "redis",
		Session: &model.SessionInfo{Ref: model.Ref(id), ID: model.Mask(id), Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"},
		TTL:     &ttl, Size: &size, Changed: []string{"cart", "csrf_token"}}
}

// benchClient is one websocket reader that counts what it receives.
type benchClient struct {
	objects atomic.Int64  // objects received (events, gap markers)
	skipped atomic.Int64  // objects the hub said this client missed
	maxSeq  atomic.Uint64 // highest seq any message carried
}

func dialBench(b *testing.B, ctx context.Context, base string, after uint64, wg *sync.WaitGroup) *benchClient {
	b.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+base[len("http"):]+"/ws?after="+strconv.FormatUint(after, 10),
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {base}}})
	if err != nil {
		b.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(64 << 20)
	c := &benchClient{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer conn.CloseNow()
		var m struct {
			Seq     uint64     `json:"seq"`
			Count   int        `json:"count"`
			Type    string     `json:"type"`
			Objects []struct{} `json:"objects"`
		}
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			m.Objects, m.Count = m.Objects[:0], 0
			if err := json.Unmarshal(data, &m); err != nil {
				panic("bench client: " + err.Error())
			}
			c.objects.Add(int64(len(m.Objects)))
			if m.Type == "skipped" {
				c.skipped.Add(int64(m.Count))
			}
			for {
				old := c.maxSeq.Load()
				if m.Seq <= old || c.maxSeq.CompareAndSwap(old, m.Seq) {
					break
				}
			}
		}
	}()
	return c
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func perClient(now, base uint64, n int) float64 {
	if now < base {
		return 0
	}
	return float64(now-base) / float64(n)
}

// BenchmarkHubFiveClients measures what five dashboard websockets receive while the
// source publishes events as fast as one goroutine can (b.N events). The hub pushes
// at most MaxPending objects per interval to a client and tells it how many it
// skipped, so under this load delivery is capped by design; delivered-% says how much
// of the firehose each client saw. Memory is the heap growth per client, after GC,
// with the clients connected and idle, and right after the burst with their queues
// full (peak: the highest heap sampled during the burst, without forcing GC).
//
//	go test -run '^$' -bench BenchmarkHubFiveClients -benchtime 2000000x ./ui/
func BenchmarkHubFiveClients(b *testing.B) {
	const clients = 5
	hub := stream.NewBroadcaster()
	for i := 0; i < stream.DefaultRingSize; i++ { // a full ring, as in a running process
		hub.Publish(benchEvent(i))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := ui.DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := ui.New(cfg, hubSource{hub})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	var readers sync.WaitGroup
	defer func() {
		cancel()
		if err := <-served; err != nil {
			b.Errorf("serve: %v", err)
		}
		readers.Wait()
	}()
	guard := time.Now().Add(time.Minute) // a hang guard, not a measurement
	waitFor := func(what string, cond func() bool) {
		for !cond() {
			if time.Now().After(guard) {
				b.Fatalf("gave up waiting for %s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor("the hub", srv.Hub().Running)

	base := "http://" + ln.Addr().String()
	heapBase := heapAfterGC()
	cs := make([]*benchClient, clients)
	for i := range cs {
		cs[i] = dialBench(b, ctx, base, hub.Seq(), &readers)
	}
	waitFor("clients to register", func() bool { return srv.Hub().Clients() == clients })
	// Idle: at least one counters-only push has reached every client.
	waitFor("an idle push", func() bool {
		for _, c := range cs {
			if c.maxSeq.Load() < hub.Seq() {
				return false
			}
		}
		return true
	})
	heapIdle := heapAfterGC()

	var peak atomic.Uint64
	stopSampler := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampler:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > peak.Load() {
					peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()

	startObjs := make([]int64, clients)
	for i, c := range cs {
		startObjs[i] = c.objects.Load()
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		hub.Publish(benchEvent(i))
	}
	published := time.Since(start)
	b.StopTimer()
	heapLoad := heapAfterGC()
	b.StartTimer()
	// Drain: publish a marker until every client has seen it. A marker can be lost
	// when the hub's own subscription is full at that moment, hence the loop.
	for {
		hub.Publish(benchEvent(0))
		mark := hub.Seq()
		until := time.Now().Add(300 * time.Millisecond)
		done := false
		for time.Now().Before(until) {
			done = true
			for _, c := range cs {
				if c.maxSeq.Load() < mark {
					done = false
				}
			}
			if done {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if done {
			break
		}
		if time.Now().After(guard) {
			b.Fatal("gave up waiting for the clients to catch up")
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stopSampler)
	<-sampled

	var total, skipped int64
	for i, c := range cs {
		total += c.objects.Load() - startObjs[i]
		skipped += c.skipped.Load()
	}
	perClientObjs := float64(total) / clients
	b.ReportMetric(perClientObjs/elapsed.Seconds(), "events/s/client")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s-total")
	b.ReportMetric(100*perClientObjs/float64(b.N), "delivered-%")
	b.ReportMetric(float64(b.N)/published.Seconds(), "published/s")
	b.ReportMetric(perClient(heapIdle, heapBase, clients), "heap-B/client-idle")
	b.ReportMetric(perClient(heapLoad, heapBase, clients), "heap-B/client-load")
	b.ReportMetric(perClient(peak.Load(), heapBase, clients), "heap-B/client-peak")
	if skipped == 0 && total < int64(b.N)*clients {
		b.Errorf("clients missed %d objects without a skipped marker", int64(b.N)*clients-total)
	}
}
