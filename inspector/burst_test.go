package inspector_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// TestBurstAboveTheReadBudgetFindsNothing writes 100,000 new sessions with a TTL as
// fast as Redis takes them, far above the read budget, so most payloads go unread. Every
// key had a TTL and nothing logged in: no finding may come of the reads that were
// skipped, nothing may be dropped, and the table must end up equal to the keys.
func TestBurstAboveTheReadBudgetFindsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 writes")
	}
	const sessions = 100000
	h := newHarness(t, harnessOptions{})
	h.WaitLive()
	ctx := context.Background()
	for start := 0; start < sessions; start += 1000 {
		_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range 1000 {
				p.Do(ctx, "SETEX", "PHPREDIS_SESSION:"+phpSessionID(), 3600, "csrf|"+phpString(phpSessionID())+"user_id|i:42;")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("write the burst: %v", err)
		}
	}
	trackertest.WaitTableMatchesKeys(t, h.in, "table equal to the store's key set", 2*time.Minute, func() (map[string]bool, error) {
		return storeRefs(h.rdb)
	})
	if d := h.in.Stats().Dropped.Load(); d != 0 {
		t.Errorf("dropped %d notifications", d)
	}
	for _, f := range h.in.Findings() {
		t.Errorf("finding %s (%s, count %d): %s", f.Rule, f.Severity, f.Count, f.Detail)
	}
}
