package redisstore_test

import (
	"context"
	"fmt"
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

// TestSentinelFailoverPolling follows a Sentinel failover in poll mode, on servers
// with notifications off. The replica is made to lack one of the master's sessions
// (deleted on the replica itself, which replica-read-only no allows), so the promoted
// master differs from what sessionscope listed: the switch must reconcile, ending
// that session with evidence resync, rather than keep it as a phantom; and polling
// must go on on the new master.
func TestSentinelFailoverPolling(t *testing.T) {
	master := redistest.Start(t, redistest.Options{Notifications: "off"})
	replica := redistest.StartReplica(t, master)
	replica.Do(t, "CONFIG", "SET", "notify-keyspace-events", "")
	sent := redistest.StartSentinel(t, "pollmaster", master, 1)

	const prefix = "PHPREDIS_SESSION:"
	for i := range 5 {
		master.Do(t, "SET", fmt.Sprintf("%spoll%02dxxxxxxxxxxxxxxxxxxxxxx", prefix, i), `user|s:3:"bob";`, "EX", "600")
	}
	if got := master.Do(t, "WAIT", "1", "5000"); got != "1" {
		t.Fatalf("WAIT 1: %s replicas acknowledged", got)
	}
	const lost = "poll00xxxxxxxxxxxxxxxxxxxxxx"
	replica.Do(t, "CONFIG", "SET", "replica-read-only", "no")
	replica.Do(t, "DEL", prefix+lost)

	ctx, cancel := context.WithCancel(context.Background())
	matcher := framework.NewMatcher(framework.Builtin())
	so, err := redisstore.ParseSentinels(sent.Addr)
	if err != nil {
		t.Fatal(err)
	}
	so.Master = "pollmaster"
	store, err := redisstore.OpenSentinel(ctx, redisstore.Config{Matcher: matcher, Mode: redisstore.ModePoll,
		PollInterval: 100 * time.Millisecond}, so)
	if err != nil {
		cancel()
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = store.Close() })
	in := inspector.New(store, inspector.Config{Tracker: tracker.Config{Matcher: matcher}})
	w := trackertest.Start(t, in, model.Ref)
	w.Wait("the first pass on the master", func(o model.Object) bool {
		st, ok := o.(*model.Status)
		return ok && st.Inventory != nil && st.Inventory.Done && st.Node == master.Addr
	})
	if n := in.SessionCount(); n != 5 {
		t.Fatalf("%d sessions after the first pass, want 5", n)
	}

	master.KillHoldingPort(t)
	w.Wait("a gap on the promoted replica", func(o model.Object) bool {
		ev, ok := o.(*model.Event)
		return ok && ev.Kind == model.KindGap && ev.Node == replica.Addr
	})
	ended := w.Wait("the session the new master lacks ended by the reconciliation", func(o model.Object) bool {
		ev, ok := o.(*model.Event)
		return ok && (ev.Kind == model.KindDestroyed || ev.Kind == model.KindExpired) && ev.Session != nil &&
			ev.Session.Ref == model.Ref(lost)
	}).(*model.Event)
	if ended.Evidence != model.EvidenceResync {
		t.Errorf("%s of the lost session has evidence %q, want %q", ended.Kind, ended.Evidence, model.EvidenceResync)
	}
	w.Wait("resynced on the new master", func(o model.Object) bool {
		ev, ok := o.(*model.Event)
		return ok && ev.Kind == model.KindResynced && ev.Node == replica.Addr
	})

	// Polling goes on on the new master: a session written there is seen.
	after := "pollafterxxxxxxxxxxxxxxxxxxxx"
	replica.Do(t, "SET", prefix+after, `user|s:3:"eve";`, "EX", "600")
	created := eventN(t, w, model.KindCreated, after, 1)
	if created.Node != replica.Addr || created.Evidence != model.EvidencePoll {
		t.Errorf("created after the failover: node %q evidence %q, want %q and %q", created.Node, created.Evidence,
			replica.Addr, model.EvidencePoll)
	}

	want := sortedRefs(strings.Split(replica.Do(t, "SCAN", "0", "MATCH", prefix+"*", "COUNT", "1000"), "\n")[1:], prefix)
	trackertest.Eventually(t, "a table equal to the new master's keys", trackertest.Limit, func() (bool, string) {
		got := tableRefs(t, in)
		return strings.Join(got, ",") == strings.Join(want, ","), fmt.Sprintf("got %v, want %v", got, want)
	})
	if len(want) != 5 {
		t.Errorf("the new master holds %d sessions, want 5 (5 - 1 lost + 1 after)\nreplica log:\n%s\nsentinel log:\n%s",
			len(want), replica.LogTail(), sent.LogTail())
	}
}
