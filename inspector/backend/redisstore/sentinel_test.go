package redisstore_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
)

// TestSentinelFailover watches a master through a sentinel, SIGKILLs the master and
// checks that the failover is followed: a gap on the promoted replica, then its events
// carrying its address, and a session table equal to the new master's keys.
func TestSentinelFailover(t *testing.T) {
	master := redistest.Start(t, redistest.Options{})
	replica := redistest.StartReplica(t, master)
	sent := redistest.StartSentinel(t, "mymaster", master, 1)

	const prefix = "PHPREDIS_SESSION:"
	for i := range 5 {
		master.Do(t, "SET", fmt.Sprintf("%sbefore%02dxxxxxxxxxxxxxxxxxxxx", prefix, i), `user|s:3:"bob";`, "EX", "600")
	}

	ctx, cancel := context.WithCancel(context.Background())
	matcher := framework.NewMatcher(framework.Builtin())
	so, err := redisstore.ParseSentinels(sent.Addr)
	if err != nil {
		t.Fatal(err)
	}
	so.Master = "mymaster"
	store, err := redisstore.OpenSentinel(ctx, redisstore.Config{Matcher: matcher}, so)
	if err != nil {
		cancel()
		t.Fatalf("open: %v", err)
	}
	if store.Node() != master.Addr {
		t.Errorf("attached to %s, want the master %s", store.Node(), master.Addr)
	}
	t.Cleanup(func() { cancel(); _ = store.Close() }) // after the watch has stopped
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
	w := trackertest.Start(t, in, model.Ref)

	w.Wait("the inventory through the master", func(o model.Object) bool {
		st, ok := o.(*model.Status)
		return ok && st.Inventory != nil && st.Inventory.Done && st.Node == master.Addr
	})
	live := "livexxxxxxxxxxxxxxxxxxxxxxxxxxx"
	master.Do(t, "SET", prefix+live, `user|s:3:"ann";`, "EX", "600")
	if ev := eventN(t, w, model.KindCreated, live, 1); ev.Node != master.Addr {
		t.Errorf("created on the master carries node %q, want %q", ev.Node, master.Addr)
	}
	// Everything so far is on the replica before the master dies, so the failover
	// loses nothing and the table must equal the promoted replica's keys exactly.
	if got := master.Do(t, "WAIT", "1", "5000"); got != "1" {
		t.Fatalf("WAIT 1: %s replicas acknowledged", got)
	}

	master.KillHoldingPort(t)
	// Room for a failover: the sentinel's down-after (1 s), an election and the
	// promotion come before the new master answers; trackertest.Limit covers them.
	gap := w.Wait("a gap on the promoted replica", func(o model.Object) bool {
		ev, ok := o.(*model.Event)
		return ok && ev.Kind == model.KindGap && ev.Node == replica.Addr
	}).(*model.Event)
	if gap.FromTime == nil || gap.ToTime == nil || !gap.FromTime.Before(*gap.ToTime) {
		t.Errorf("gap without a span: from %v to %v", gap.FromTime, gap.ToTime)
	}
	if role := replica.Do(t, "ROLE"); !strings.HasPrefix(role, "master") {
		t.Fatalf("the replica was not promoted: ROLE %q", role)
	}
	if store.Node() != replica.Addr {
		t.Errorf("store node %s after the failover, want %s", store.Node(), replica.Addr)
	}

	// A delete then a create in one correlation window would read as a regeneration:
	// the create waits for the delete's event.
	replica.Do(t, "DEL", prefix+"before00xxxxxxxxxxxxxxxxxxxx")
	if ev := eventN(t, w, model.KindDestroyed, "before00xxxxxxxxxxxxxxxxxxxx", 1); ev.Node != replica.Addr {
		t.Errorf("destroyed after the failover carries node %q, want %q", ev.Node, replica.Addr)
	}
	after := "afterxxxxxxxxxxxxxxxxxxxxxxxxxx"
	replica.Do(t, "SET", prefix+after, `user|s:3:"eve";`, "EX", "600")
	created := eventN(t, w, model.KindCreated, after, 1)
	if created.Node != replica.Addr {
		t.Errorf("created after the failover carries node %q, want the new master %q", created.Node, replica.Addr)
	}
	if created.Seq <= gap.Seq {
		t.Errorf("created (seq %d) came before the gap (seq %d)", created.Seq, gap.Seq)
	}
	w.Wait("resynced on the new master", func(o model.Object) bool {
		ev, ok := o.(*model.Event)
		return ok && ev.Kind == model.KindResynced && ev.Node == replica.Addr
	})

	// The table settles within the correlation window; wait for it, generously: the
	// limit only stops a hung test.
	want := sortedRefs(strings.Split(replica.Do(t, "SCAN", "0", "MATCH", prefix+"*", "COUNT", "1000"), "\n")[1:], prefix)
	var got []string
	deadline := time.Now().Add(trackertest.Limit)
	for {
		got = tableRefs(t, in)
		if strings.Join(got, ",") == strings.Join(want, ",") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("session table after the failover:\n got %v\nwant %v (the new master's keys)\n%s", got, want, w.Dump())
	}
	if len(want) != 6 {
		t.Errorf("the new master holds %d sessions, want 6 (5 + 1 live - 1 deleted + 1 after)", len(want))
	}
}

func sortedRefs(keys []string, prefix string) []string {
	var refs []string
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k, prefix); ok {
			refs = append(refs, model.Ref(id))
		}
	}
	sort.Strings(refs)
	return refs
}

// tableRefs is the session table's refs, sorted.
func tableRefs(t *testing.T, in *inspector.Inspector) []string {
	t.Helper()
	refs, err := trackertest.TableRefs(in.Sessions)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(refs))
}

func TestParseSentinels(t *testing.T) {
	so, err := redisstore.ParseSentinels("10.0.0.5:26379, redis://:s3cret@10.0.0.6:26379")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(so.Addrs, ",") != "10.0.0.5:26379,10.0.0.6:26379" || so.Password != "s3cret" {
		t.Errorf("parsed %+v", so)
	}
	for _, bad := range []string{"", "10.0.0.5", "http://x:1"} {
		if _, err := redisstore.ParseSentinels(bad); err == nil {
			t.Errorf("ParseSentinels(%q) accepted", bad)
		}
	}
}
