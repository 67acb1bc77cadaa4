package tracker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// BenchmarkInventory1M measures the tracker's side of attaching to a store with a
// million sessions: SCAN pages of 1000 items (key, TTL, size, as the Redis backend
// reads them) into an empty table, rules included, with the inventory not yet done
// (tombstones on), until the table holds them all. The Redis side (SCAN, PTTL,
// STRLEN) is ui/ssbench's inventory phase. Run with -benchtime=1x.
func BenchmarkInventory1M(b *testing.B) {
	const n, page = 1_000_000, 1000
	pages := make([][]backend.InventoryItem, 0, n/page)
	now := time.Now()
	for lo := 0; lo < n; lo += page {
		items := make([]backend.InventoryItem, 0, page)
		for i := lo; i < lo+page; i++ {
			items = append(items, backend.InventoryItem{Key: fmt.Sprintf("PHPREDIS_SESSION:%026x", uint64(i)*0x9e3779b97f4a7c15),
				Node: "bench", TTL: 1440 * time.Second, Size: 500, Read: now})
		}
		pages = append(pages, items)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		cfg := tracker.Config{Matcher: framework.NewMatcher(framework.Builtin())}
		hub := stream.NewBroadcaster()
		sub := hub.Subscribe(1 << 16)
		go func() {
			for range sub.C() {
			}
		}()
		tr := tracker.New(cfg, newBenchStore(), hub, diagnose.NewEngine(diagnose.Config{}))
		feed := backend.NewFeed(1 << 16)
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan struct{})
		go func() {
			defer close(runDone)
			_ = tr.Run(ctx, feed)
		}()
		for i, p := range pages {
			feed.Inventory <- p
			if i == 0 { // as the Redis backend does after its first SCAN page
				feed.Status <- model.Status{Type: model.TypeStatus, Time: now, Backend: "bench", State: model.StateInventory,
					Inventory: &model.Inventory{Scanned: page, Sessions: page, Estimate: n}}
			}
		}
		deadline := time.Now().Add(5 * time.Minute)
		for tr.SessionCount() < n {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d sessions tracked after 5 minutes", tr.SessionCount(), n)
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		cancel()
		<-runDone
		sub.Cancel()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/session")
}
