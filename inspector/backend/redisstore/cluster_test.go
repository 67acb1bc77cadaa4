package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

const clusterPrefix = "PHPREDIS_SESSION:"

// slotOwner maps a key to the address of the master serving its slot, as a running
// node sees it.
func slotOwner(t *testing.T, c *redistest.Cluster, key string) string {
	t.Helper()
	ctx := context.Background()
	cc := redis.NewClient(&redis.Options{Addr: c.Running()[0].Addr})
	defer cc.Close()
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatalf("cluster keyslot: %v", err)
	}
	//lint:ignore SA1019 the backend discovers masters with CLUSTER SLOTS too, which Redis 6 also answers
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("cluster slots: %v", err)
	}
	for _, r := range slots {
		if int64(r.Start) <= slot && slot <= int64(r.End) {
			return r.Nodes[0].Addr
		}
	}
	t.Fatalf("no master serves slot %d", slot)
	return ""
}

// clusterKeys is the cluster's session key set, by SCAN on every running master.
func clusterKeys(c *redistest.Cluster, t *testing.T) (map[string]bool, error) {
	keys := map[string]bool{}
	for _, m := range c.Masters(t) {
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr})
		var cursor uint64
		for {
			page, next, err := rdb.Scan(context.Background(), cursor, clusterPrefix+"*", 1000).Result()
			if err != nil {
				_ = rdb.Close()
				return nil, err
			}
			for _, k := range page {
				keys[model.Ref(strings.TrimPrefix(k, clusterPrefix))] = true
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		_ = rdb.Close()
	}
	return keys, nil
}

// eventually is trackertest.Eventually under the name the cluster tests of this package
// call it by.
var eventually = trackertest.Eventually

// seededCluster starts a 3-master cluster with replicas per master, and writes n
// sessions named <prefix><i> through a cluster client, which the test keeps (closed
// at cleanup) to write as an app would. nodeTimeout is how soon a silent master is
// judged failed: short where a test kills one and waits for its failover, long where
// nothing fails, so that a master merely starved of CPU on a loaded machine is not
// failed (without replicas that stops the whole cluster).
func seededCluster(t *testing.T, replicas int, nodeTimeout time.Duration, prefix string, n int) (*redistest.Cluster, *redis.ClusterClient, []*redistest.Server) {
	t.Helper()
	c := redistest.StartCluster(t, redistest.ClusterOptions{Masters: 3, Replicas: replicas, NodeTimeout: nodeTimeout})
	var addrs []string
	for _, s := range c.Nodes {
		addrs = append(addrs, s.Addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16})
	t.Cleanup(func() { _ = cc.Close() })
	masters := c.Masters(t)
	if len(masters) != 3 {
		t.Fatalf("%d masters, want 3", len(masters))
	}
	for i := range n {
		if err := redistest.SetEx(context.Background(), cc, fmt.Sprintf("%s%s%05d", clusterPrefix, prefix, i), "user|s:5:\"alice\";", 10*time.Minute); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	return c, cc, masters
}

// TestCluster attaches to a local 3-master, 3-replica cluster through one node's URL
// (no --cluster: it is detected). It checks that the inventory and the live events of
// every master arrive tagged with the master that holds the key; then, under load, it
// SIGKILLs a master: the gap is that node's only, the promoted replica is subscribed
// and re-inventoried, streaming resumes, and the session table ends equal to the
// cluster's key set.
func TestCluster(t *testing.T) {
	c, cc, masters := seededCluster(t, 1, time.Second, "before", 300)
	ctx := context.Background()
	matcher := framework.NewMatcher(framework.Builtin())

	t.Run("inventory and events carry the master", func(t *testing.T) {
		store, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: matcher})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer store.Close()
		if !strings.Contains(store.Describe(), "Redis Cluster, 3 masters") {
			t.Errorf("cluster not detected: %q", store.Describe())
		}
		feed := backend.NewFeed(1 << 14)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- store.Run(rctx, feed) }()
		inv := map[string]string{} // key -> node
		raw := map[string]string{}
		invDone := false
		collect := func() {
			for {
				select {
				case items := <-feed.Inventory:
					for _, it := range items {
						inv[it.Key] = it.Node
					}
				case st := <-feed.Status:
					if st.Inventory != nil && st.Inventory.Done {
						invDone = true
					}
				case ev := <-feed.Raw:
					if ev.Op == backend.OpSet {
						raw[ev.Key] = ev.Node
					}
				case <-time.After(50 * time.Millisecond):
					return
				}
			}
		}
		eventually(t, "inventory done", trackertest.Limit, func() (bool, string) {
			collect()
			return invDone, fmt.Sprintf("%d items", len(inv))
		})
		if len(inv) != 300 {
			t.Errorf("inventory found %d sessions, want 300", len(inv))
		}
		for i := range 300 {
			if err := redistest.SetEx(ctx, cc, fmt.Sprintf("%slive%05d", clusterPrefix, i), "user|s:3:\"bob\";", 10*time.Minute); err != nil {
				t.Fatalf("write: %v", err)
			}
		}
		eventually(t, "the set events of all 300 live writes", trackertest.Limit, func() (bool, string) {
			collect()
			return len(raw) == 300, fmt.Sprintf("%d seen", len(raw))
		})
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		perNode := map[string]int{}
		for _, m := range []map[string]string{inv, raw} {
			for key, node := range m {
				perNode[node]++
				if want := slotOwner(t, c, key); node != want {
					t.Errorf("%s tagged node %q, its slot is served by %s", key, node, want)
					break
				}
			}
		}
		for _, m := range masters {
			if perNode[m.Addr] == 0 {
				t.Errorf("nothing seen from master %s (%v)", m.Addr, perNode)
			}
		}
		t.Logf("sessions per master: %v", perNode)
	})

	t.Run("failover", func(t *testing.T) {
		store, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: matcher})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer store.Close()
		in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
		var (
			mu                   sync.Mutex
			gaps, resyncs, lives []*model.Event
			statuses             []string
			live                 atomic.Bool
		)
		sub := in.Subscribe(1 << 18)
		subDone := make(chan struct{})
		go func() {
			defer close(subDone)
			for o := range sub.C() {
				mu.Lock()
				switch v := o.(type) {
				case *model.Status:
					statuses = append(statuses, fmt.Sprintf("%s %s %s %q", v.Time.Format("15:04:05.000"), v.Node, v.State, v.Message))
					if v.Inventory != nil && v.Inventory.Done && v.Node == "" {
						live.Store(true)
					}
				case *model.Event:
					switch {
					case v.Kind == model.KindGap:
						gaps = append(gaps, v)
					case v.Kind == model.KindResynced:
						resyncs = append(resyncs, v)
					case v.Kind == model.KindCreated && v.Evidence != model.EvidenceResync:
						lives = append(lives, v)
					}
				}
				mu.Unlock()
			}
		}()
		rctx, cancel := context.WithCancel(ctx)
		runDone := make(chan error, 1)
		go func() { runDone <- in.Run(rctx) }()
		defer func() {
			cancel()
			if err := <-runDone; err != nil {
				t.Errorf("inspector run: %v", err)
			}
			sub.Cancel()
			<-subDone
			if t.Failed() {
				mu.Lock()
				t.Logf("statuses:\n  %s", strings.Join(statuses, "\n  "))
				mu.Unlock()
			}
		}()
		eventually(t, "the first inventory", trackertest.Limit, func() (bool, string) { return live.Load(), "" })

		// Load through the cluster client while a master dies: writes to its slots
		// fail until the replica is promoted, as an app's would.
		stop := make(chan struct{})
		var ops atomic.Int64
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("%sload%05d", clusterPrefix, i%2000)
				var err error
				if i%5 == 4 {
					err = cc.Del(ctx, fmt.Sprintf("%sload%05d", clusterPrefix, (i*7)%2000)).Err()
				} else {
					err = redistest.SetEx(ctx, cc, key, "user|s:3:\"eve\";", 10*time.Minute)
				}
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				ops.Add(1)
				time.Sleep(time.Millisecond)
			}
		}()
		eventually(t, "load before the kill", trackertest.Limit, func() (bool, string) { return ops.Load() >= 300, "" })
		victim := masters[1]
		victim.KillHoldingPort(t)
		c.WaitOK(t, trackertest.Limit)
		cc.ReloadState(ctx) // the app's client learns the new topology
		var promoted string
		for _, m := range c.Masters(t) {
			if !slices.ContainsFunc(masters, func(s *redistest.Server) bool { return s.Addr == m.Addr }) {
				promoted = m.Addr
			}
		}
		if promoted == "" {
			t.Fatalf("no replica was promoted after killing %s", victim.Addr)
		}
		eventually(t, "retirement (empty resync) of the killed master", trackertest.Limit, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range resyncs {
				if e.Node == victim.Addr {
					return true, "" // the retirement follows the promoted node's resync
				}
			}
			return false, fmt.Sprintf("%d resynced events", len(resyncs))
		})
		// Streaming resumes on the promoted master: fresh keys of its slots are seen
		// live, tagged with it.
		before := ops.Load()
		eventually(t, "load after the failover", trackertest.Limit, func() (bool, string) { return ops.Load() >= before+300, "" })
		close(stop)
		wg.Wait()
		var fresh string
		for i := 0; fresh == ""; i++ {
			k := fmt.Sprintf("%safter%05d", clusterPrefix, i)
			if slotOwner(t, c, k) == promoted {
				fresh = k
			}
		}
		if err := redistest.SetEx(ctx, cc, fresh, "user|s:3:\"sam\";", 10*time.Minute); err != nil {
			t.Fatalf("write after failover: %v", err)
		}
		freshRef := model.Ref(strings.TrimPrefix(fresh, clusterPrefix))
		eventually(t, "a live created event from the promoted master", trackertest.Limit, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range lives {
				if e.Session != nil && e.Session.Ref == freshRef {
					return e.Node == promoted, "node " + e.Node
				}
			}
			return false, "not seen"
		})

		trackertest.WaitTableMatchesKeys(t, in, "table equal to the cluster's key set", 60*time.Second, func() (map[string]bool, error) {
			return clusterKeys(c, t)
		})

		mu.Lock()
		defer mu.Unlock()
		sawVictim := false
		for _, g := range gaps {
			switch g.Node {
			case victim.Addr:
				sawVictim = true
			case promoted:
			default:
				t.Errorf("gap on %s, which stayed up (victim %s, promoted %s): %+v", g.Node, victim.Addr, promoted, g)
			}
			if g.FromTime == nil || g.ToTime == nil || g.ToTime.Before(*g.FromTime) {
				t.Errorf("gap without a span: %+v", g)
			}
		}
		if !sawVictim {
			t.Errorf("no gap event for the killed master %s (%d gaps)", victim.Addr, len(gaps))
		}
		promotedResynced := false
		for _, e := range resyncs {
			promotedResynced = promotedResynced || e.Node == promoted
		}
		if !promotedResynced {
			t.Errorf("the promoted master %s was not re-inventoried", promoted)
		}
		t.Logf("killed %s, promoted %s; %d load ops; %d gaps, %d resyncs", victim.Addr, promoted, ops.Load(), len(gaps), len(resyncs))
	})
}

// TestClusterFlagOnSingleRedis: --cluster or --nodes on a Redis that is not a cluster
// node is refused with one line naming the flag; without the flag the same server is a plain
// store.
func TestClusterFlagOnSingleRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	matcher := framework.NewMatcher(framework.Builtin())
	_, err := redisstore.Open(context.Background(), redisstore.Config{URL: srv.URL(), Matcher: matcher, Cluster: true})
	if err == nil || !strings.Contains(err.Error(), "--cluster: Redis at "+srv.Addr+" is not a cluster node") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want one line refusing --cluster, got %v", err)
	}
	_, err = redisstore.Open(context.Background(), redisstore.Config{URL: srv.URL(), Matcher: matcher, Nodes: []string{srv.Addr}})
	if want := "--nodes: Redis at " + srv.Addr + " is not a cluster node (INFO cluster does not say cluster_enabled:1), and --nodes picks masters of a Redis Cluster; drop --nodes, or point --redis at a node of the cluster"; err == nil || !strings.HasSuffix(err.Error(), ": "+want) || !errors.Is(err, redisstore.ErrNotAMaster) {
		t.Fatalf("--nodes on a single Redis: %v, want ErrNotAMaster saying\n%s", err, want)
	}
	store, err := redisstore.Open(context.Background(), redisstore.Config{URL: srv.URL(), Matcher: matcher})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer store.Close()
	if strings.Contains(store.Describe(), "Cluster") || store.Node() != srv.Addr {
		t.Errorf("a single Redis taken for a cluster: %q node %q", store.Describe(), store.Node())
	}
}
