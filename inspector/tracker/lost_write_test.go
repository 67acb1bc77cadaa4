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

// TestBirthWhoseWriteWasLost: when a gap (a full raw queue) lost a SETEX's "set" and
// only its "new" or "expire" arrived, the birth read nothing, and must say so. An
// event without payload_unread reads as a payload seen: the fixation rule took such a
// birth for an anonymous session and the next write (logged in all along, as every
// write of this store is) for a login that kept its id. Seen at 220,000
// notifications/s with a small raw queue.
func TestBirthWhoseWriteWasLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		lost []backend.Op // what arrived of the first SETEX
	}{
		{"only new", []backend.Op{backend.OpNew}},
		{"only expire", []backend.Op{backend.OpExpire}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const key = "PHPREDIS_SESSION:lostwrite0000000000000000001"
			log := &eventLog{}
			tr := tracker.New(tracker.Config{Matcher: framework.NewMatcher(framework.Builtin()), Window: 20 * time.Millisecond},
				newBenchStore(), log, diagnose.NewEngine(diagnose.Config{}))
			feed := backend.NewFeed(1024)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = tr.Run(ctx, feed) }()
			now := time.Now()
			feed.Status <- model.Status{Type: model.TypeStatus, Time: now, State: model.StateLive,
				Inventory: &model.Inventory{Done: true}}
			var raws []backend.RawEvent
			for i, op := range tc.lost {
				raws = append(raws, backend.RawEvent{Time: now.Add(time.Duration(i) * time.Millisecond), Op: op, Key: key, Node: "n", Continues: i > 0})
			}
			// The next SETEX, a second later: an update of the session born above.
			later := now.Add(time.Second)
			raws = append(raws, backend.RawEvent{Time: later, Op: backend.OpSet, Key: key, Node: "n"},
				backend.RawEvent{Time: later, Op: backend.OpExpire, Key: key, Node: "n", Continues: true})
			for _, r := range raws {
				feed.Raw <- r
			}
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
				idle, err := tr.Idle(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if idle && tr.Stats().RawEvents.Load() == int64(len(raws)) && len(log.kinds()) >= 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("tracker not done after a minute: events %v", log.kinds())
				}
			}
			log.mu.Lock()
			defer log.mu.Unlock()
			born, next := log.events[0], log.events[1]
			if born.Kind != model.KindCreated || born.PayloadUnread != model.UnreadNoWrite {
				t.Errorf("birth: %s with payload_unread %q, want created with %q", born.Kind, born.PayloadUnread, model.UnreadNoWrite)
			}
			if next.AuthAdded {
				t.Errorf("the next write (%s) is marked as adding authentication: nothing was read before it", next.Kind)
			}
		})
	}
}
