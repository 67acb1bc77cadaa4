package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
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

// TestClusterNodesSplitMigration: two stores split a 3-master cluster (--nodes), A
// following one master and B the other two, as two sessionscope processes exporting
// to one Collector would. Slots of some of A's sessions move to a master B follows:
// neither reports the move as an end or a birth; A drops the sessions (handed over),
// B takes them on; a later update and deletion of a moved session are reported once,
// by B; a deletion on A's master is still destroyed, by A. A name that is not a
// master is refused with ErrNotAMaster.
func TestClusterNodesSplitMigration(t *testing.T) {
	c, cc, masters := seededCluster(t, 0, 15*time.Second, "split", 200)
	ctx := context.Background()
	matcher := framework.NewMatcher(framework.Builtin())

	_, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: matcher, Nodes: []string{"127.0.0.1:1"}})
	if !errors.Is(err, redisstore.ErrNotAMaster) || !strings.Contains(err.Error(), masters[0].Addr) {
		t.Fatalf("open with an unknown node: %v, want ErrNotAMaster listing the masters", err)
	}

	from, to := masters[0], masters[1]
	// Four slots of the source's sessions move; one session of the source stays.
	slots := map[int64]bool{}
	var stays string
	keyOf := map[int64][]string{}
	for i := range 200 {
		k := fmt.Sprintf("%ssplit%05d", clusterPrefix, i)
		if slotOwner(t, c, k) != from.Addr {
			continue
		}
		slot, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		keyOf[slot] = append(keyOf[slot], k)
		switch {
		case len(slots) < 4:
			slots[slot] = true
		case stays == "" && !slots[slot]:
			stays = k
		}
	}
	var moving []string
	for slot := range slots {
		moving = append(moving, keyOf[slot]...)
	}
	if len(slots) < 4 || stays == "" {
		t.Fatalf("too few sessions on %s", from.Addr)
	}
	refOf := func(k string) string { return model.Ref(strings.TrimPrefix(k, clusterPrefix)) }
	watch := func(nodes ...string) (*inspector.Inspector, *trackertest.Watch) {
		store, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: matcher, Nodes: nodes})
		if err != nil {
			t.Fatalf("open --nodes %s: %v", nodes, err)
		}
		t.Cleanup(func() { _ = store.Close() })
		in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
		w := trackertest.Start(t, in, refOf)
		w.Wait("the first inventory", func(o model.Object) bool {
			st, ok := o.(*model.Status)
			return ok && st.Inventory != nil && st.Inventory.Done && st.Node == ""
		})
		return in, w
	}
	inA, wA := watch(from.Addr)
	inB, wB := watch(to.Addr, masters[2].Addr)
	for _, k := range moving {
		if _, err := inA.Session(refOf(k)); err != nil {
			t.Fatalf("A, following %s, does not hold %s: %v", from.Addr, k, err)
		}
		if _, err := inB.Session(refOf(k)); err == nil {
			t.Fatalf("B holds %s, a session of %s", k, from.Addr)
		}
	}

	for slot := range slots {
		moveSlot(t, ctx, masters, slot, from, to)
	}
	cc.ReloadState(ctx)
	trackertest.Eventually(t, "the moved sessions in B's table on the new master, not in A's", trackertest.Limit, func() (bool, string) {
		var wrong []string
		for _, k := range moving {
			if _, err := inA.Session(refOf(k)); err == nil {
				wrong = append(wrong, k+" still in A")
			}
			if d, err := inB.Session(refOf(k)); err != nil || d.Row.Node != to.Addr {
				wrong = append(wrong, k+" not in B on "+to.Addr)
			}
		}
		return len(wrong) == 0, strings.Join(wrong, "; ")
	})
	if n := inA.Stats().HandedOver.Load(); n != int64(len(moving)) {
		t.Errorf("A handed over %d sessions, want %d", n, len(moving))
	}
	for _, k := range moving {
		// A's page of the session says where it went, not that it ended.
		if es, err := inA.EndedSession(refOf(k)); err != nil || es.MovedToNode != to.Addr || es.Kind != "" {
			t.Errorf("A remembers %s as moved to %q, ended %q (%v); want moved to %s", k, es.MovedToNode, es.Kind, err, to.Addr)
		}
	}
	if n := inB.Stats().Arrived.Load(); n != int64(len(moving)) {
		t.Errorf("B took on %d sessions, want %d", n, len(moving))
	}

	// What the app does to a moved session afterwards is B's to report, once.
	for _, k := range moving {
		if err := redistest.SetEx(ctx, cc, k, `user|s:5:"alice";cart|i:1;`, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range moving {
		wB.WaitEvent(model.KindUpdated, k)
	}
	for _, k := range append(moving, stays) {
		if err := cc.Del(ctx, k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range moving {
		wB.WaitEvent(model.KindDestroyed, k)
	}
	wA.WaitEvent(model.KindDestroyed, stays)
	// Stopping makes each store decide what it still holds: what is absent now is absent.
	wA.Stop()
	wB.Stop()

	for _, k := range moving {
		count := map[string]int{}
		for _, e := range wA.Events(k) {
			count["A "+string(e.Kind)]++
		}
		for _, e := range wB.Events(k) {
			count["B "+string(e.Kind)]++
		}
		want := map[string]int{"B " + string(model.KindUpdated): 1, "B " + string(model.KindDestroyed): 1}
		if fmt.Sprint(count) != fmt.Sprint(want) {
			t.Errorf("moved session %s: events %v, want %v (A: %v, B: %v)", k, count, want,
				trackertest.Kinds(wA.Events(k)), trackertest.Kinds(wB.Events(k)))
		}
	}
	if got := trackertest.Kinds(wB.Events(stays)); len(got) != 0 {
		t.Errorf("B reported %v for %s, a session of A's master", got, stays)
	}
	if got := trackertest.Kinds(wA.Events(stays)); len(got) != 1 || got[0] != string(model.KindDestroyed) {
		t.Errorf("A reported %v for the deletion of %s on its master, want [destroyed]", got, stays)
	}
}

// TestClusterNodesLocate: a Locate read names the master that holds a key, through
// each state of a slot migration: before it (the slot's master), while the slot is
// MIGRATING and the key has moved (the source answers ASK), once the source has
// given the slot away but the target still imports it (MOVED one way, MOVED back for
// a plain request), and after SETSLOT NODE everywhere (MOVED, to a client whose slot
// map is stale). A key that is gone is not located.
func TestClusterNodesLocate(t *testing.T) {
	c, cc, masters := seededCluster(t, 0, 15*time.Second, "locate", 100)
	ctx := context.Background()
	from, to := masters[0], masters[1]
	var key string
	for i := 0; i < 100 && key == ""; i++ {
		if k := fmt.Sprintf("%slocate%05d", clusterPrefix, i); slotOwner(t, c, k) == from.Addr {
			key = k
		}
	}
	if key == "" {
		t.Fatalf("no session on %s", from.Addr)
	}
	store, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: framework.NewMatcher(framework.Builtin()), Nodes: []string{from.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if !store.FollowsPart() {
		t.Fatal("a store given --nodes does not say it follows part of the cluster")
	}
	locate := func(k string) backend.ReadResult {
		t.Helper()
		res := store.Read(ctx, []backend.ReadRequest{{Key: k, TTLOnly: true, Locate: true}})[0]
		if res.Err != nil {
			t.Fatalf("locate %s: %v", k, res.Err)
		}
		return res
	}
	if res := locate(key); !res.Exists || res.Node != from.Addr || res.TTL <= 0 {
		t.Fatalf("before the migration: %+v, want it on %s with its TTL", res, from.Addr)
	}
	// One read of many keys, on every master, one of them gone, among payload reads.
	var batch []backend.ReadRequest
	for i := range 100 {
		k := fmt.Sprintf("%slocate%05d", clusterPrefix, i)
		batch = append(batch, backend.ReadRequest{Key: k, TTLOnly: true, Locate: true}, backend.ReadRequest{Key: k})
	}
	batch = append(batch, backend.ReadRequest{Key: clusterPrefix + "gone", TTLOnly: true, Locate: true})
	got := store.Read(ctx, batch)
	for i, r := range batch[:200] {
		res := got[i]
		switch {
		case res.Err != nil:
			t.Fatalf("read %s: %v", r.Key, res.Err)
		case !res.Exists:
			t.Errorf("%s not found", r.Key)
		case r.Locate && res.Node != slotOwner(t, c, r.Key):
			t.Errorf("%s located on %q, its master is %s", r.Key, res.Node, slotOwner(t, c, r.Key))
		case !r.Locate && (res.Node != "" || len(res.Data) == 0):
			t.Errorf("payload read of %s: %+v", r.Key, res)
		}
	}
	if res := got[200]; res.Exists || res.Node != "" || res.Err != nil {
		t.Errorf("a key that does not exist: %+v", res)
	}

	src := redis.NewClient(&redis.Options{Addr: from.Addr})
	defer src.Close()
	dst := redis.NewClient(&redis.Options{Addr: to.Addr})
	defer dst.Close()
	fromID, _ := src.ClusterMyID(ctx).Result()
	toID, _ := dst.ClusterMyID(ctx).Result()
	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprint(slot)
	for _, step := range [][]any{{dst, "IMPORTING", fromID}, {src, "MIGRATING", toID}} {
		if err := step[0].(*redis.Client).Do(ctx, "CLUSTER", "SETSLOT", s, step[1], step[2]).Err(); err != nil {
			t.Fatalf("setslot %s: %v", step[1], err)
		}
	}
	host, port, _ := net.SplitHostPort(to.Addr)
	if err := src.Do(ctx, "MIGRATE", host, port, "", 0, 5000, "KEYS", key).Err(); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if res := locate(key); !res.Exists || res.Node != to.Addr {
		t.Fatalf("moved, its slot migrating: %+v, want it on %s", res, to.Addr)
	}
	// The source gives the slot away first: it answers MOVED to the target, which,
	// still importing, would send a plain request back.
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", toID).Err(); err != nil {
		t.Fatalf("setslot node on %s: %v", from.Addr, err)
	}
	if res := locate(key); !res.Exists || res.Node != to.Addr {
		t.Fatalf("moved, its slot given away by the source only: %+v, want it on %s", res, to.Addr)
	}
	for _, m := range masters {
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr})
		err := rdb.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", toID).Err()
		_ = rdb.Close()
		if err != nil {
			t.Fatalf("setslot node on %s: %v", m.Addr, err)
		}
	}
	if res := locate(key); !res.Exists || res.Node != to.Addr {
		t.Fatalf("moved, its slot reassigned: %+v, want it on %s", res, to.Addr)
	}
	if err := cc.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if res := locate(key); res.Exists || res.Node != "" {
		t.Fatalf("deleted: %+v, want not found", res)
	}
}
