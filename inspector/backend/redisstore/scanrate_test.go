package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// TestScanRate checks that --scan-rate spaces the inventory's SCAN pages: 3000 keys
// at 2000 keys a second, with a burst of one page (COUNT 500), cannot be listed in
// less than (3000-500)/2000 = 1.25 s. That is a lower bound the limiter guarantees,
// not a speed expectation: a loaded machine only makes the inventory slower. The
// same inventory without the rate is the control: it must list the same sessions.
func TestScanRate(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	p := rdb.Pipeline()
	for i := range 3000 {
		p.SetEx(ctx, fmt.Sprintf("PHPREDIS_SESSION:rate%026d", i), `user|s:3:"bob";`, time.Hour)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// listed counts a page's sessions; phase two's items fill in the same sessions.
	listed := func(items []backend.InventoryItem) int {
		n := 0
		for _, it := range items {
			if it.Kind != backend.ItemFilled {
				n++
			}
		}
		return n
	}
	inventory := func(rate float64) (int, time.Duration) {
		store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: framework.NewMatcher(framework.Builtin()),
			ScanCount: 500, ScanRate: rate})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer store.Close()
		feed := backend.NewFeed(1 << 12)
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		start := time.Now()
		go func() { _ = store.Run(rctx, feed) }()
		n := 0
		deadline := time.After(2 * time.Minute)
		for {
			select {
			case items := <-feed.Inventory:
				n += listed(items)
			case st := <-feed.Status:
				if st.Inventory != nil && st.Inventory.Done {
					for len(feed.Inventory) > 0 {
						n += listed(<-feed.Inventory)
					}
					return n, time.Since(start)
				}
			case <-feed.Raw:
			case <-deadline:
				t.Fatalf("scan rate %g: no inventory done within 2 minutes (%d items)", rate, n)
			}
		}
	}
	if n, _ := inventory(0); n != 3000 {
		t.Fatalf("without a scan rate the inventory listed %d sessions, want 3000", n)
	}
	n, took := inventory(2000)
	if n != 3000 {
		t.Fatalf("with --scan-rate 2000 the inventory listed %d sessions, want 3000", n)
	}
	if took < 1250*time.Millisecond {
		t.Errorf("3000 keys at 2000 keys/s (burst 500) listed in %s: the rate was not applied", took)
	}
	t.Logf("3000 keys at --scan-rate 2000: %s", took.Round(time.Millisecond))
}
