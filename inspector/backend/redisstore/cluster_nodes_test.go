package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// TestClusterNodesSplitMigration pins what docs/scaling.md says of --nodes: each of
// two stores follows one master, and a session whose slot moves from one to the
// other ends (destroyed) in the first and is born (created) in the second; a name
// that is not a master is refused with ErrNotAMaster.
func TestClusterNodesSplitMigration(t *testing.T) {
	c, cc, masters := seededCluster(t, 0, 15*time.Second, "split", 200)
	ctx := context.Background()
	matcher := framework.NewMatcher(framework.Builtin())

	_, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: matcher, Nodes: []string{"127.0.0.1:1"}})
	if !errors.Is(err, redisstore.ErrNotAMaster) || !strings.Contains(err.Error(), masters[0].Addr) {
		t.Fatalf("open with an unknown node: %v, want ErrNotAMaster listing the masters", err)
	}

	from, to := masters[0], masters[1]
	var key string
	for i := 0; i < 200 && key == ""; i++ {
		if k := fmt.Sprintf("%ssplit%05d", clusterPrefix, i); slotOwner(t, c, k) == from.Addr {
			key = k
		}
	}
	if key == "" {
		t.Fatalf("no session on %s", from.Addr)
	}
	ref := model.Ref(strings.TrimPrefix(key, clusterPrefix))
	watch := func(node string) (*inspector.Inspector, *trackertest.Watch) {
		store, err := redisstore.Open(ctx, redisstore.Config{URL: c.URL(), Matcher: matcher, Nodes: []string{node}})
		if err != nil {
			t.Fatalf("open --nodes %s: %v", node, err)
		}
		t.Cleanup(func() { _ = store.Close() })
		in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
		w := trackertest.Start(t, in, func(k string) string { return model.Ref(strings.TrimPrefix(k, clusterPrefix)) })
		w.Wait("the first inventory", func(o model.Object) bool {
			st, ok := o.(*model.Status)
			return ok && st.Inventory != nil && st.Inventory.Done && st.Node == ""
		})
		return in, w
	}
	inFrom, wFrom := watch(from.Addr)
	inTo, wTo := watch(to.Addr)
	if _, err := inFrom.Session(ref); err != nil {
		t.Fatalf("the store following %s does not hold %s: %v", from.Addr, key, err)
	}
	if _, err := inTo.Session(ref); err == nil {
		t.Fatalf("the store following %s holds %s, a session of %s", to.Addr, key, from.Addr)
	}

	slot, err := cc.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	moveSlot(t, ctx, masters, slot, from, to)
	ended := wFrom.WaitEvent(model.KindDestroyed, key)
	born := wTo.WaitEvent(model.KindCreated, key)
	if ended.Node != from.Addr || born.Node != to.Addr {
		t.Errorf("destroyed on %q, created on %q; want %s then %s", ended.Node, born.Node, from.Addr, to.Addr)
	}
}
