package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// phaseRecorder is the tracker's publisher. On the tracker goroutine, as the status
// saying phase one is done goes out, it notes what the table holds: every session
// listed, and (phase two being paced) TTL and size mostly not read yet.
type phaseRecorder struct {
	tr   *tracker.Tracker
	keys []string

	mu                 sync.Mutex
	listed, done       *model.Inventory
	trackedAtListed    int
	unreadAtListed     int
	noTTLAtListed      int
	findingsAtListed   int
	noExpiryFindings   int
	statusesInPhaseOne int
}

func (r *phaseRecorder) Publish(o model.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch v := o.(type) {
	case *model.Finding:
		if v.Rule == "no-server-expiry" {
			r.noExpiryFindings++
		}
	case *model.Status:
		inv := v.Inventory
		if inv == nil {
			return
		}
		if inv.Phase == model.InventoryList {
			r.statusesInPhaseOne++
		}
		if inv.ListedAt != nil && r.listed == nil {
			r.listed = inv
			r.trackedAtListed = r.tr.SessionCount()
			r.findingsAtListed = r.noExpiryFindings
			for _, k := range r.keys {
				d, err := r.tr.Session(model.Ref(k[len("PHPREDIS_SESSION:"):]))
				if err != nil {
					continue
				}
				if d.Row.MetaUnread {
					r.unreadAtListed++
				}
				if d.Row.NoTTL {
					r.noTTLAtListed++
				}
			}
		}
		if inv.Done && r.done == nil {
			r.done = inv
		}
	}
}

// TestInventoryTwoPhases runs the first inventory of a real redis-server through the
// tracker: phase one lists every session (the status saying so finds them all in the
// table, their TTL and size "not read yet", and no no-server-expiry finding, although
// some keys have no TTL), then phase two fills TTL and size in and only then the rule
// fires. Both phases are paced by --scan-rate: 3000 keys at 2000 keys/s with a burst
// of one page (COUNT 500) take at least 1.25 s each, a lower bound the limiter
// guarantees whatever the machine's load.
func TestInventoryTwoPhases(t *testing.T) {
	const n, noTTL, rate = 3000, 10, 2000
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	const payload = `user|s:3:"bob";`
	keys := make([]string, n)
	p := rdb.Pipeline()
	for i := range keys {
		keys[i] = fmt.Sprintf("PHPREDIS_SESSION:phase%026d", i)
		ttl := time.Hour
		if i < noTTL {
			ttl = 0 // SET without expiry: a key the store never ends
		}
		p.Set(ctx, keys[i], payload, ttl)
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	matcher := framework.NewMatcher(framework.Builtin())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: matcher, ScanCount: 500, ScanRate: rate})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer store.Close()
	rec := &phaseRecorder{keys: keys}
	tr := tracker.New(tracker.Config{Matcher: matcher}, store, rec, diagnose.NewEngine(diagnose.Config{}))
	rec.tr = tr
	feed := backend.NewFeed(1 << 12)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	wg.Add(2)
	go func() { defer wg.Done(); _ = store.Run(rctx, feed) }()
	go func() { defer wg.Done(); _ = tr.Run(rctx, feed) }()

	trackertest.Eventually(t, "inventory done", trackertest.Limit, func() (bool, string) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.done != nil, fmt.Sprintf("listed %v", rec.listed != nil)
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.listed == nil {
		t.Fatal("no status said phase one was done before the inventory was")
	}
	if rec.trackedAtListed != n || rec.listed.Sessions != n || rec.listed.Phase != model.InventoryFill {
		t.Errorf("at phase one's end: %d sessions in the table, status counts %d, phase %q; want %d, %d, %q",
			rec.trackedAtListed, rec.listed.Sessions, rec.listed.Phase, n, n, model.InventoryFill)
	}
	// Phase two is paced: at most its first page (500) can have been filled by then.
	if rec.unreadAtListed < n-500 {
		t.Errorf("at phase one's end %d of %d sessions had TTL and size not read yet, want at least %d", rec.unreadAtListed, n, n-500)
	}
	if rec.noTTLAtListed != 0 || rec.findingsAtListed != 0 {
		t.Errorf("at phase one's end %d sessions read as without TTL and %d no-server-expiry findings: a TTL not read yet was taken for none",
			rec.noTTLAtListed, rec.findingsAtListed)
	}
	if rec.statusesInPhaseOne == 0 {
		t.Error("no status object reported phase one in progress")
	}
	done := rec.done
	if done.Phase != model.InventoryDone || done.Sessions != n || done.Filled != n || done.ListedAt == nil || done.FilledAt == nil || done.StartedAt == nil {
		t.Fatalf("done status: phase %q, sessions %d, filled %d, times %v/%v/%v; want %q, %d, %d and all three times",
			done.Phase, done.Sessions, done.Filled, done.StartedAt, done.ListedAt, done.FilledAt, model.InventoryDone, n, n)
	}
	phaseOne, phaseTwo := done.ListedAt.Sub(*done.StartedAt), done.FilledAt.Sub(*done.ListedAt)
	bound := time.Duration(float64(n-500) / rate * float64(time.Second))
	if phaseOne < bound || phaseTwo < bound {
		t.Errorf("at --scan-rate %d: phase one took %s and phase two %s, want each at least %s", rate, phaseOne, phaseTwo, bound)
	}
	t.Logf("3000 keys at --scan-rate %d: phase one %s, phase two %s", rate, phaseOne.Round(time.Millisecond), phaseTwo.Round(time.Millisecond))
	if rec.noExpiryFindings == 0 {
		t.Error("phase two read keys without a TTL, but no no-server-expiry finding followed")
	}
	for i, k := range keys {
		d, err := tr.Session(model.Ref(k[len("PHPREDIS_SESSION:"):]))
		if err != nil {
			t.Fatalf("session %s: %v", k, err)
		}
		r := d.Row
		if r.MetaUnread || r.Size != len(payload) || (i < noTTL) != r.NoTTL || (i >= noTTL) == r.ExpiresAt.IsZero() {
			t.Fatalf("session %s after phase two: unread %v, size %d, no TTL %v, expires %v; want filled, %d bytes, no TTL %v",
				k, r.MetaUnread, r.Size, r.NoTTL, r.ExpiresAt, len(payload), i < noTTL)
		}
	}
}
