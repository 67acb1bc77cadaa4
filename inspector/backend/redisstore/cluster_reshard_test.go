package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"strings"
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

// moveSlot migrates one hash slot and its keys from one master to another as
// `redis-cli --cluster reshard` does: IMPORTING on the target, MIGRATING on the
// source, MIGRATE of the slot's keys in batches, then SETSLOT NODE on every master.
func moveSlot(t *testing.T, ctx context.Context, masters []*redistest.Server, slot int64, from, to *redistest.Server) {
	t.Helper()
	src := redis.NewClient(&redis.Options{Addr: from.Addr})
	defer src.Close()
	dst := redis.NewClient(&redis.Options{Addr: to.Addr})
	defer dst.Close()
	fromID, err := src.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatalf("cluster myid on %s: %v", from.Addr, err)
	}
	toID, err := dst.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatalf("cluster myid on %s: %v", to.Addr, err)
	}
	s := fmt.Sprint(slot)
	if err := dst.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID).Err(); err != nil {
		t.Fatalf("setslot importing: %v", err)
	}
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", s, "MIGRATING", toID).Err(); err != nil {
		t.Fatalf("setslot migrating: %v", err)
	}
	host, port, _ := net.SplitHostPort(to.Addr)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		if err != nil {
			t.Fatalf("getkeysinslot %d: %v", slot, err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("migrate slot %d: %v", slot, err)
		}
	}
	for _, m := range masters {
		c := redis.NewClient(&redis.Options{Addr: m.Addr})
		err := c.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", toID).Err()
		_ = c.Close()
		if err != nil {
			t.Fatalf("setslot node on %s: %v", m.Addr, err)
		}
	}
}

// TestClusterReshard moves the slots of some sessions from one master to another
// while sessionscope watches. A migration is a restore on the target and a del on the
// source: the sessions must not be reported destroyed (nor created), they must be
// listed on their new master, later writes to them must be seen from it, and the
// table must equal the cluster's keys.
func TestClusterReshard(t *testing.T) {
	c, cc, masters := seededCluster(t, 0, 15*time.Second, "shard", 200)
	ctx := context.Background()
	from, to := masters[0], masters[1]
	// The slots of the first 20 sessions the source holds.
	moving := map[string]int64{} // key -> slot
	for i := 0; i < 200 && len(moving) < 20; i++ {
		k := fmt.Sprintf("%sshard%05d", clusterPrefix, i)
		if slotOwner(t, c, k) == from.Addr {
			slot, err := cc.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatalf("keyslot: %v", err)
			}
			moving[k] = slot
		}
	}
	if len(moving) < 20 {
		t.Fatalf("only %d sessions on %s", len(moving), from.Addr)
	}

	matcher := framework.NewMatcher(framework.Builtin())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: matcher})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer store.Close()
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
	w := trackertest.Start(t, in, func(key string) string { return model.Ref(strings.TrimPrefix(key, clusterPrefix)) })
	w.Wait("the first inventory", func(o model.Object) bool {
		st, ok := o.(*model.Status)
		return ok && st.Inventory != nil && st.Inventory.Done && st.Node == ""
	})

	moved := map[int64]bool{}
	for _, slot := range moving {
		if !moved[slot] {
			moved[slot] = true
			moveSlot(t, ctx, masters, slot, from, to)
		}
	}
	cc.ReloadState(ctx)
	for k := range moving {
		if owner := slotOwner(t, c, k); owner != to.Addr {
			t.Fatalf("%s still on %s after the move", k, owner)
		}
	}

	// A write to every moved session after the move is seen from the new master.
	for k := range moving {
		if err := redistest.SetEx(ctx, cc, k, "user|s:5:\"alice\";cart|i:1;", 10*time.Minute); err != nil {
			t.Fatalf("write after the move: %v", err)
		}
	}
	var keys []string
	for k := range moving {
		keys = append(keys, k)
	}
	trackertest.Eventually(t, "an updated event from the new master for every moved session", trackertest.Limit, func() (bool, string) {
		seen := map[string]bool{}
		for _, e := range w.Events(keys...) {
			if e.Kind == model.KindUpdated && e.Node == to.Addr {
				seen[e.Session.Ref] = true
			}
		}
		var missing []string
		for _, k := range keys {
			if !seen[model.Ref(strings.TrimPrefix(k, clusterPrefix))] {
				missing = append(missing, fmt.Sprintf("%s: %v", k, trackertest.Kinds(w.Events(k))))
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d; not seen: %s", len(keys)-len(missing), len(keys), strings.Join(missing, "; "))
	})
	trackertest.Eventually(t, "a settled tracker", trackertest.Limit, func() (bool, string) {
		settled, err := in.Settled(ctx)
		return err == nil && settled, "busy"
	})

	for _, e := range w.Events(keys...) {
		switch e.Kind {
		case model.KindDestroyed, model.KindCreated, model.KindExpired, model.KindRegenerated:
			t.Errorf("moved session %s reported %s (node %s)", e.Session.Ref, e.Kind, e.Node)
		}
	}
	for _, k := range keys {
		d, err := in.Session(model.Ref(strings.TrimPrefix(k, clusterPrefix)))
		if err != nil {
			t.Errorf("moved session %s not in the table: %v", k, err)
			continue
		}
		if d.Row.Node != to.Addr {
			t.Errorf("moved session %s listed on %q, want %s", k, d.Row.Node, to.Addr)
		}
	}
	// The Sessions search finds them by their new node, and every session on one node.
	matched := 0
	for _, m := range masters {
		page, err := in.Sessions(tracker.Query{Text: "node:" + m.Addr, Limit: 1000})
		if err != nil {
			t.Fatalf("search node:%s: %v", m.Addr, err)
		}
		matched += page.Matched
		if m != to {
			continue
		}
		found := map[string]bool{}
		for _, r := range page.Rows {
			found[r.Ref] = true
		}
		for _, k := range keys {
			if !found[model.Ref(strings.TrimPrefix(k, clusterPrefix))] {
				t.Errorf("search node:%s does not list the moved %s", to.Addr, k)
			}
		}
	}
	if total := in.SessionCount(); matched != total {
		t.Errorf("node: searches over the 3 masters matched %d sessions, the table holds %d", matched, total)
	}
	stored, err := clusterKeys(c, t)
	if err != nil {
		t.Fatalf("list the cluster's keys: %v", err)
	}
	if n := in.SessionCount(); n != len(stored) {
		t.Errorf("table holds %d sessions, the cluster %d", n, len(stored))
	}
	for ref := range stored {
		if _, err := in.Session(ref); err != nil {
			t.Errorf("session %s in the cluster, not in the table", ref)
		}
	}
	t.Logf("moved %d sessions in %d slots from %s to %s", len(moving), len(moved), from.Addr, to.Addr)
}
