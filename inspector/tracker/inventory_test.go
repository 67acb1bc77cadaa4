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

// doneRecorder is a Publisher that notes how many sessions the table held when the
// tracker published the status saying the inventory is done.
type doneRecorder struct {
	mu      sync.Mutex
	tr      *tracker.Tracker
	atDone  int
	done    chan struct{}
	sawDone bool
}

func (d *doneRecorder) Publish(o model.Object) {
	st, ok := o.(*model.Status)
	if !ok || st.Inventory == nil || !st.Inventory.Done {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.sawDone {
		d.sawDone = true
		d.atDone = d.tr.SessionCount() // on the tracker goroutine, outside its lock
		close(d.done)
	}
}

// TestInventoryDoneAfterItsPages checks that the status saying the inventory is done
// is taken after the pages the store sent before it, although the two travel on
// different channels: the done status ends the tombstones that keep sessions deleted
// after SCAN saw them out of the table, so a page taken after it could bring back a
// deleted session. Pages and the done status are queued before the tracker starts, so
// that its first select finds both ready; the select picks at random, and twenty
// rounds would catch a tracker that does not drain the pages first.
func TestInventoryDoneAfterItsPages(t *testing.T) {
	const pages, perPage = 4, 250
	matcher := framework.NewMatcher(framework.Builtin())
	for round := 0; round < 20; round++ {
		rec := &doneRecorder{done: make(chan struct{})}
		tr := tracker.New(tracker.Config{Matcher: matcher}, newBenchStore(), rec, diagnose.NewEngine(diagnose.Config{}))
		rec.tr = tr
		feed := backend.NewFeed(1024)
		now := time.Now()
		for p := 0; p < pages; p++ {
			items := make([]backend.InventoryItem, 0, perPage)
			for i := 0; i < perPage; i++ {
				items = append(items, backend.InventoryItem{Key: fmt.Sprintf("PHPREDIS_SESSION:r%dp%di%04d", round, p, i),
					Node: "n", TTL: time.Hour, Size: 10, Read: now})
			}
			feed.Inventory <- items
		}
		feed.Status <- model.Status{Type: model.TypeStatus, Time: now, State: model.StateLive,
			Inventory: &model.Inventory{Scanned: pages * perPage, Sessions: pages * perPage, Done: true}}
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan struct{})
		go func() {
			defer close(runDone)
			_ = tr.Run(ctx, feed)
		}()
		select {
		case <-rec.done:
		case <-time.After(time.Minute):
			t.Fatal("no done status published within a minute")
		}
		cancel()
		<-runDone
		if rec.atDone != pages*perPage {
			t.Fatalf("round %d: the done status was published with %d sessions in the table, want all %d pages' %d",
				round, rec.atDone, pages, pages*perPage)
		}
	}
}

// TestInventoryPresizeKeepsTheTable checks that reserving the table from the store's
// estimate (after the first page) keeps the sessions already in it and that the
// table keeps working: every session can be found by ref, and a deletion ends one.
func TestInventoryPresizeKeepsTheTable(t *testing.T) {
	matcher := framework.NewMatcher(framework.Builtin())
	hubRec := &doneRecorder{done: make(chan struct{})}
	tr := tracker.New(tracker.Config{Matcher: matcher, Window: time.Millisecond}, newBenchStore(), hubRec,
		diagnose.NewEngine(diagnose.Config{}))
	hubRec.tr = tr
	feed := backend.NewFeed(1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = tr.Run(ctx, feed) }()
	now := time.Now()
	page := func(lo, n int) []backend.InventoryItem {
		items := make([]backend.InventoryItem, 0, n)
		for i := lo; i < lo+n; i++ {
			items = append(items, backend.InventoryItem{Key: fmt.Sprintf("PHPREDIS_SESSION:%026d", i), Node: "n",
				TTL: time.Hour, Size: 10, Read: now})
		}
		return items
	}
	feed.Inventory <- page(0, 1000)
	// Half of the keys scanned were sessions: 20000 keys in the store project 10000.
	feed.Status <- model.Status{Type: model.TypeStatus, Time: now, State: model.StateInventory,
		Inventory: &model.Inventory{Scanned: 2000, Sessions: 1000, Estimate: 20000}}
	for lo := 1000; lo < 10000; lo += 1000 {
		feed.Inventory <- page(lo, 1000)
	}
	feed.Status <- model.Status{Type: model.TypeStatus, Time: now, State: model.StateLive,
		Inventory: &model.Inventory{Scanned: 20000, Sessions: 10000, Done: true}}
	<-hubRec.done
	if hubRec.atDone != 10000 {
		t.Fatalf("%d sessions in the table at done, want 10000", hubRec.atDone)
	}
	for i := 0; i < 10000; i += 997 {
		id := fmt.Sprintf("%026d", i)
		d, err := tr.Session(model.Ref(id))
		if err != nil || !d.Row.Inventory {
			t.Fatalf("session %s not found by ref after the presize: %v", id, err)
		}
	}
	feed.Raw <- backend.RawEvent{Time: time.Now(), Op: backend.OpDel, Key: "PHPREDIS_SESSION:" + fmt.Sprintf("%026d", 42), Node: "n"}
	deadline := time.Now().Add(time.Minute)
	for tr.SessionCount() != 9999 {
		if time.Now().After(deadline) {
			t.Fatalf("a deletion after the presize left %d sessions, want 9999", tr.SessionCount())
		}
		time.Sleep(time.Millisecond)
	}
}
