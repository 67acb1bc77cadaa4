package tracker_test

import (
	"context"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// TestChainedEntriesSeeTheTableAsDecided writes one key twice within a window, so that
// the second command's entry opens while the first is undecided, and deciding the
// first adds or removes the key's session: the second must be classified against the
// table as the first left it (an entry keeps the session it found when it opened, and
// must find out that it changed).
func TestChainedEntriesSeeTheTableAsDecided(t *testing.T) {
	const key = "PHPREDIS_SESSION:chained00000000000000000001"
	type raw struct {
		op   backend.Op
		cont bool
	}
	setex := []raw{{backend.OpSet, false}, {backend.OpExpire, true}}
	tests := []struct {
		name  string
		known bool // the inventory found the session first
		raws  []raw
		want  []model.Kind
	}{
		{"deleted, then written without new: a birth", true,
			append([]raw{{backend.OpDel, false}}, setex...), []model.Kind{model.KindDestroyed, model.KindCreated}},
		{"born, then written again: an update", false,
			append(append([]raw{}, setex...), setex...), []model.Kind{model.KindCreated, model.KindUpdated}},
		{"updated, expired, then written: a birth", true,
			append(append(append([]raw{}, setex...), raw{backend.OpExpired, false}), setex...),
			[]model.Kind{model.KindUpdated, model.KindExpired, model.KindCreated}},
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
			sessions := 0
			if tc.known {
				sessions = 1
				feed.Inventory <- []backend.InventoryItem{{Key: key, Node: "n", TTL: time.Hour, Size: 10, Read: now}}
			}
			feed.Status <- model.Status{Type: model.TypeStatus, Time: now, State: model.StateLive,
				Inventory: &model.Inventory{Scanned: 1, Sessions: int64(sessions), Done: true}}
			for deadline := time.Now().Add(time.Minute); tr.SessionCount() != sessions; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the inventory was not taken within a minute")
				}
			}
			for i, r := range tc.raws {
				feed.Raw <- backend.RawEvent{Time: now.Add(time.Duration(i) * time.Millisecond), Op: r.op, Key: key, Node: "n", Continues: r.cont}
			}
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
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
		})
	}
}
