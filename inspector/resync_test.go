package inspector_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

const phpPrefix = "PHPREDIS_SESSION:"

// resyncRig runs an Inspector on a redis-server the test may kill and restart, and
// counts what it emits.
type resyncRig struct {
	t   *testing.T
	srv *redistest.Server
	in  *inspector.Inspector

	mu       sync.Mutex
	gaps     []*model.Event
	resyncs  []*model.Event
	byResync map[model.Kind]int // created/expired/destroyed events marked evidence: resync
	statuses []string
	live     atomic.Bool // the first inventory is done
}

func newResyncRig(t *testing.T, opts redistest.Options, queueSize int) *resyncRig {
	t.Helper()
	srv := redistest.Start(t, opts)
	matcher := framework.NewMatcher(framework.Builtin())
	ctx, cancel := context.WithCancel(context.Background())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: matcher})
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	r := &resyncRig{t: t, srv: srv, byResync: map[model.Kind]int{}}
	r.in = inspector.New(store, inspector.Config{QueueSize: queueSize, Tracker: tracker.Config{Matcher: matcher}})
	sub := r.in.Subscribe(1 << 18)
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		for o := range sub.C() {
			r.record(o)
		}
	}()
	runDone := make(chan error, 1)
	go func() { runDone <- r.in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("inspector run: %v", err)
		}
		sub.Cancel()
		<-subDone
		_ = store.Close()
		if t.Failed() {
			r.mu.Lock()
			t.Logf("statuses:\n  %s", strings.Join(r.statuses, "\n  "))
			r.mu.Unlock()
		}
	})
	trackertest.Eventually(r.t, "the first inventory", 30*time.Second, func() (bool, string) { return r.live.Load(), "" })
	return r
}

func (r *resyncRig) record(o model.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch v := o.(type) {
	case *model.Status:
		r.statuses = append(r.statuses, fmt.Sprintf("%s %s %q", v.Time.Format("15:04:05.000"), v.State, v.Message))
		if v.Inventory != nil && v.Inventory.Done {
			r.live.Store(true)
		}
	case *model.Event:
		switch {
		case v.Kind == model.KindGap:
			r.gaps = append(r.gaps, v)
		case v.Kind == model.KindResynced:
			r.resyncs = append(r.resyncs, v)
		case v.Evidence == model.EvidenceResync:
			r.byResync[v.Kind]++
		}
	}
}

func (r *resyncRig) counts() (gaps, resyncs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.gaps), len(r.resyncs)
}

// storeRefs is the store's set of phpredis sessions, by SCAN as sessionscope would
// (never KEYS).
func storeRefs(rdb *redis.Client) (map[string]bool, error) {
	refs := map[string]bool{}
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(context.Background(), cursor, phpPrefix+"*", 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			refs[model.Ref(strings.TrimPrefix(k, phpPrefix))] = true
		}
		if cursor = next; cursor == 0 {
			return refs, nil
		}
	}
}

// waitTableMatchesStore waits until the session table holds exactly the keys rdb
// scans to.
func (r *resyncRig) waitTableMatchesStore(rdb *redis.Client) {
	r.t.Helper()
	trackertest.WaitTableMatchesKeys(r.t, r.in, "table equal to the store's key set", 90*time.Second, func() (map[string]bool, error) {
		return storeRefs(rdb)
	})
}

// loadGenerator writes and deletes phpredis sessions until stop closes, riding out
// the restarts (commands fail while Redis is down, as an app's would). About a third
// of the sessions get a TTL short enough to expire during the test.
func loadGenerator(addr string, seed uint64, stop <-chan struct{}, ops *atomic.Int64) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ctx := context.Background()
	for {
		select {
		case <-stop:
			return
		default:
		}
		key := fmt.Sprintf("%ssess%020d", phpPrefix, rng.IntN(3000))
		var err error
		switch n := rng.IntN(10); {
		case n < 3:
			err = rdb.Del(ctx, key).Err()
		case n < 6:
			err = redistest.SetEx(ctx, rdb, key, "user|s:5:\"alice\";n|i:"+fmt.Sprint(n)+";", time.Duration(1+rng.IntN(3))*time.Second)
		default:
			err = redistest.SetEx(ctx, rdb, key, "user|s:3:\"bob\";", 10*time.Minute)
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond) // Redis is down: retry, as a client would
			continue
		}
		ops.Add(1)
		time.Sleep(time.Millisecond)
	}
}

// TestResyncAcrossRestarts kills and restarts redis-server five times on the same port
// under load; afterwards sessionscope's session set equals the store's key set. Without
// persistence each restart empties the store (every session ends unseen); with an
// append-only file the data survives but the writes around each restart are unseen.
func TestResyncAcrossRestarts(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no persistence", nil},
		{"appendonly", []string{"--appendonly", "yes", "--appendfsync", "always"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newResyncRig(t, redistest.Options{Args: tc.args}, 0)
			admin := redis.NewClient(&redis.Options{Addr: r.srv.Addr, MaxRetries: -1})
			defer admin.Close()

			stop := make(chan struct{})
			var ops atomic.Int64
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					loadGenerator(r.srv.Addr, uint64(i+1), stop, &ops)
				}()
			}
			for round := 1; round <= 5; round++ {
				before := ops.Load()
				trackertest.Eventually(r.t, "load before the restart", 30*time.Second, func() (bool, string) {
					return ops.Load() >= before+300, fmt.Sprintf("%d ops", ops.Load()-before)
				})
				if round%2 == 0 {
					// An orderly stop from an admin connection, as an operator would.
					_, _ = redistest.Command(r.srv.Addr, "SHUTDOWN", "NOSAVE")
				} else {
					r.srv.Kill(t)
				}
				time.Sleep(200 * time.Millisecond) // the app's writes fail meanwhile
				r.srv.Restart(t)
				trackertest.Eventually(r.t, fmt.Sprintf("resynced event after restart %d", round), 60*time.Second, func() (bool, string) {
					_, resyncs := r.counts()
					return resyncs >= round, fmt.Sprintf("%d resynced so far", resyncs)
				})
			}
			close(stop)
			wg.Wait()

			r.waitTableMatchesStore(admin)

			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.gaps) < 5 {
				t.Errorf("%d gap events for 5 restarts", len(r.gaps))
			}
			for _, g := range r.gaps {
				if g.FromTime == nil || g.ToTime == nil || g.ToTime.Before(*g.FromTime) || g.Node != r.srv.Addr {
					t.Errorf("gap event without a span or node: %+v", g)
				}
			}
			for _, e := range r.resyncs {
				if e.Node != r.srv.Addr || e.Reason == "" {
					t.Errorf("resynced event without node or summary: %+v", e)
				}
			}
			ended := r.byResync[model.KindDestroyed] + r.byResync[model.KindExpired]
			if tc.args == nil && ended == 0 {
				t.Errorf("restarts without persistence emptied the store, yet no session ended with evidence resync (%v)", r.byResync)
			}
			t.Logf("%d load ops; %d gaps, %d resyncs; resync events %v", ops.Load(), len(r.gaps), len(r.resyncs), r.byResync)
		})
	}
}

// TestResyncAfterQueueOverflow overflows a tiny raw queue with a burst: the overflow is
// a gap, the node is re-inventoried, and the table ends equal to the store.
func TestResyncAfterQueueOverflow(t *testing.T) {
	r := newResyncRig(t, redistest.Options{}, 16)
	rdb := redis.NewClient(&redis.Options{Addr: r.srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	for batch := range 5 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range 2000 {
				key := fmt.Sprintf("%sburst%06d-%d", phpPrefix, i, batch%2)
				if i%4 == 0 {
					p.Del(ctx, fmt.Sprintf("%sburst%06d-%d", phpPrefix, i, 1-batch%2))
				}
				p.SetEx(ctx, key, "user|s:3:\"eve\";", 10*time.Minute)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("burst: %v", err)
		}
	}
	trackertest.Eventually(r.t, "an overflow gap and a resync", 60*time.Second, func() (bool, string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		dropped := int64(0)
		for _, g := range r.gaps {
			dropped += g.Dropped
		}
		return dropped > 0 && len(r.resyncs) > 0, fmt.Sprintf("%d gaps (%d dropped), %d resyncs", len(r.gaps), dropped, len(r.resyncs))
	})
	r.waitTableMatchesStore(rdb)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byResync[model.KindCreated] == 0 {
		t.Errorf("sessions whose events were dropped were not created with evidence resync (%v)", r.byResync)
	}
}
