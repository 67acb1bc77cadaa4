package tracker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// eventLog is a Publisher keeping the events.
type eventLog struct {
	mu     sync.Mutex
	events []*model.Event
}

func (l *eventLog) Publish(o model.Object) {
	if ev, ok := o.(*model.Event); ok {
		l.mu.Lock()
		l.events = append(l.events, ev)
		l.mu.Unlock()
	}
}

func (l *eventLog) kinds() []model.Kind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []model.Kind
	for _, ev := range l.events {
		k = append(k, ev.Kind)
	}
	return k
}

// TestSlotMigration feeds the raw events of a Redis Cluster slot migration in the
// orders two masters' subscriptions can deliver them (MIGRATE publishes new+restore on
// the target, del on the source): the session is moved, not destroyed and created.
// A deletion and a restore on the same node are not a migration, and a write within
// the window is still reported.
func TestSlotMigration(t *testing.T) {
	const key = "PHPREDIS_SESSION:migrating0000000000000000001"
	const a, b = "10.0.0.1:7000", "10.0.0.2:7000"
	// cont marks a notification that continues its node's previous one, as the
	// store marks a command's second and later notifications (RESTORE: new, restore).
	type raw struct {
		op   backend.Op
		node string
		cont bool
	}
	tests := []struct {
		name     string
		raws     []raw
		want     []model.Kind
		wantNode string
	}{
		{"target first", []raw{{backend.OpNew, b, false}, {backend.OpRestore, b, true}, {backend.OpDel, a, false}}, nil, b},
		{"source first", []raw{{backend.OpDel, a, false}, {backend.OpNew, b, false}, {backend.OpRestore, b, true}}, nil, b},
		// A del between the target's new and restore cannot be told from a second
		// server's write then the first's delete (node-local keyspaces) until the
		// restore comes: the session is touched, then moved, never ended.
		{"source between the target's two", []raw{{backend.OpNew, b, false}, {backend.OpDel, a, false}, {backend.OpRestore, b, true}},
			[]model.Kind{model.KindTouched}, b},
		{"written on the new master within the window", []raw{{backend.OpDel, a, false}, {backend.OpNew, b, false}, {backend.OpRestore, b, true},
			{backend.OpSet, b, false}, {backend.OpExpire, b, true}}, []model.Kind{model.KindUpdated}, b},
		{"deleted, then restored on the same node", []raw{{backend.OpDel, a, false}, {backend.OpNew, a, false}, {backend.OpRestore, a, true}},
			[]model.Kind{model.KindDestroyed, model.KindCreated}, a},
	}
	matcher := framework.NewMatcher(framework.Builtin())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &eventLog{}
			tr := tracker.New(tracker.Config{Matcher: matcher, Window: 50 * time.Millisecond}, newBenchStore(), log,
				diagnose.NewEngine(diagnose.Config{}))
			feed := backend.NewFeed(1024)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = tr.Run(ctx, feed) }()
			now := time.Now()
			feed.Inventory <- []backend.InventoryItem{{Key: key, Node: a, TTL: time.Hour, Size: 10, Read: now}}
			feed.Status <- model.Status{Type: model.TypeStatus, Time: now, State: model.StateLive,
				Inventory: &model.Inventory{Scanned: 1, Sessions: 1, Done: true}}
			// The feed's channels are read in any order: let the table hold the session
			// before the raw events come, as it does when they follow the inventory.
			for deadline := time.Now().Add(time.Minute); tr.SessionCount() != 1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the inventory was not taken within a minute")
				}
			}
			for i, r := range tc.raws {
				feed.Raw <- backend.RawEvent{Time: now.Add(time.Duration(i) * time.Millisecond), Op: r.op, Key: key, Node: r.node, Continues: r.cont}
			}
			deadline := time.Now().Add(time.Minute)
			for {
				idle, err := tr.Idle(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if idle && tr.Stats().RawEvents.Load() == int64(len(tc.raws)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("tracker not idle after a minute")
				}
				time.Sleep(5 * time.Millisecond)
			}
			got := log.kinds()
			if len(got) != len(tc.want) {
				t.Fatalf("events %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("events %v, want %v", got, tc.want)
				}
			}
			d, err := tr.Session(model.Ref(key[len("PHPREDIS_SESSION:"):]))
			if err != nil {
				t.Fatalf("session gone from the table: %v", err)
			}
			if d.Row.Node != tc.wantNode {
				t.Errorf("session on %q, want %q", d.Row.Node, tc.wantNode)
			}
		})
	}
}

// partialStore follows some masters of a cluster (backend.PartialFollower): it
// answers a Locate read with the master that holds the key now, as the Redis store
// does by asking the master of the key's slot and following its redirect.
type partialStore struct {
	*benchStore
	holder string // the master holding the key after the raw events; "" when gone
}

func (s *partialStore) FollowsPart() bool { return true }

func (s *partialStore) Read(ctx context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	out := s.benchStore.Read(ctx, reqs)
	for i, r := range reqs {
		if r.Locate {
			out[i].Exists, out[i].Node = s.holder != "", s.holder
		}
	}
	return out
}

// TestSlotMigrationPartial feeds a process that follows masters a and b only (not c)
// the halves of slot migrations it can see. A del whose key lives on in another master
// drops the session without an end; a restore of a key it does not hold adds the
// session without a birth; halves of a move between a and b further apart than the
// window are one move too. A deletion (the key gone, or written again on its master)
// is still destroyed.
func TestSlotMigrationPartial(t *testing.T) {
	const key = "PHPREDIS_SESSION:migrating0000000000000000002"
	const a, b, c = "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"
	const window = 20 * time.Millisecond
	type raw struct {
		op   backend.Op
		node string
		cont bool
		late bool // sent once what came before is decided: the halves fall in two windows
	}
	tests := []struct {
		name     string
		known    bool // the inventory found the session on a
		raws     []raw
		holder   string
		want     []model.Kind
		wantNode string // "" when the session must have left the table
		handed   int64
		arrived  int64
	}{
		{"moved to a master not followed", true, []raw{{backend.OpDel, a, false, false}}, c, nil, "", 1, 0},
		{"arrived from a master not followed", false, []raw{{backend.OpNew, b, false, false}, {backend.OpRestore, b, true, false}}, b, nil, b, 0, 1},
		{"deleted", true, []raw{{backend.OpDel, a, false, false}}, "", []model.Kind{model.KindDestroyed}, "", 0, 0},
		{"deleted and written again on its master", true, []raw{{backend.OpDel, a, false, false}}, a, []model.Kind{model.KindDestroyed}, "", 0, 0},
		{"moved within the followed masters, del a window late", true,
			[]raw{{backend.OpNew, b, false, false}, {backend.OpRestore, b, true, false}, {backend.OpDel, a, false, true}}, b, nil, b, 0, 0},
		{"moved within the followed masters, restore a window late", true,
			[]raw{{backend.OpDel, a, false, false}, {backend.OpNew, b, false, true}, {backend.OpRestore, b, true, false}}, b, nil, b, 1, 1},
	}
	matcher := framework.NewMatcher(framework.Builtin())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &eventLog{}
			tr := tracker.New(tracker.Config{Matcher: matcher, Window: window}, &partialStore{benchStore: newBenchStore(), holder: tc.holder}, log,
				diagnose.NewEngine(diagnose.Config{}))
			feed := backend.NewFeed(1024)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = tr.Run(ctx, feed) }()
			now := time.Now()
			items := []backend.InventoryItem{{Key: "PHPREDIS_SESSION:other00000000000000000000001", Node: a, TTL: time.Hour, Size: 10, Read: now}}
			if tc.known {
				items = append(items, backend.InventoryItem{Key: key, Node: a, TTL: time.Hour, Size: 10, Read: now})
			}
			feed.Inventory <- items
			feed.Status <- model.Status{Type: model.TypeStatus, Time: now, State: model.StateLive,
				Inventory: &model.Inventory{Scanned: int64(len(items)), Sessions: int64(len(items)), Done: true}}
			waitFor(t, "the inventory in the table", func() bool { return tr.SessionCount() == len(items) })
			for i, r := range tc.raws {
				if r.late {
					waitFor(t, "the first half decided", func() bool {
						idle, err := tr.Idle(ctx)
						return err == nil && idle && tr.Stats().RawEvents.Load() == int64(i)
					})
				}
				feed.Raw <- backend.RawEvent{Time: time.Now(), Op: r.op, Key: key, Node: r.node, Continues: r.cont}
			}
			waitFor(t, "the tracker idle", func() bool {
				idle, err := tr.Idle(ctx)
				return err == nil && idle && tr.Stats().RawEvents.Load() == int64(len(tc.raws))
			})
			if got := log.kinds(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
			d, err := tr.Session(model.Ref(key[len("PHPREDIS_SESSION:"):]))
			switch {
			case tc.wantNode == "" && err == nil:
				t.Errorf("session still in the table, on %q", d.Row.Node)
			case tc.wantNode != "" && err != nil:
				t.Errorf("session not in the table: %v", err)
			case tc.wantNode != "" && d.Row.Node != tc.wantNode:
				t.Errorf("session on %q, want %q", d.Row.Node, tc.wantNode)
			}
			if tc.wantNode == "" {
				// What its page here says: where it went, or how it ended.
				wantMoved, wantKind := "", model.KindDestroyed
				if tc.handed > 0 {
					wantMoved, wantKind = tc.holder, ""
				}
				es, err := tr.EndedSession(model.Ref(key[len("PHPREDIS_SESSION:"):]))
				if err != nil || es.MovedToNode != wantMoved || es.Kind != wantKind {
					t.Errorf("remembered as moved to %q, ended %q (%v); want moved to %q, ended %q", es.MovedToNode, es.Kind, err, wantMoved, wantKind)
				}
			}
			st := tr.Stats()
			if st.HandedOver.Load() != tc.handed || st.Arrived.Load() != tc.arrived {
				t.Errorf("handed over %d, arrived %d; want %d, %d", st.HandedOver.Load(), st.Arrived.Load(), tc.handed, tc.arrived)
			}
		})
	}
}

// waitFor polls cond until it holds; the limit only stops a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
	}
}
