package stream

import (
	"sync"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestSeqIsProcessWideAndOrdered(t *testing.T) {
	h := NewBroadcaster()
	s := h.Subscribe(100)
	for i := 0; i < 10; i++ {
		h.Publish(&model.Event{Type: model.TypeEvent})
	}
	var last uint64
	for i := 0; i < 10; i++ {
		o := <-s.C()
		if o.ObjectSeq() <= last {
			t.Fatalf("seq %d after %d", o.ObjectSeq(), last)
		}
		last = o.ObjectSeq()
	}
}

// A stalled subscriber loses objects and gets a gap; the publisher and the other
// subscribers are not slowed.
func TestStalledSubscriberNeverBlocks(t *testing.T) {
	h := NewBroadcaster()
	stalled := h.Subscribe(2)
	fast := h.Subscribe(2000)
	var wg sync.WaitGroup
	wg.Add(1)
	got := 0
	go func() {
		defer wg.Done()
		for range fast.C() {
			got++
			if got == 1000 {
				return
			}
		}
	}()
	for i := 0; i < 1000; i++ {
		h.Publish(&model.Event{Type: model.TypeEvent, Kind: model.KindUpdated})
	}
	wg.Wait()
	if got != 1000 {
		t.Fatalf("fast subscriber got %d of 1000", got)
	}
	if stalled.Dropped() != 998 {
		t.Errorf("stalled subscriber dropped %d, want 998", stalled.Dropped())
	}
	<-stalled.C()
	<-stalled.C()
	h.Publish(&model.Event{Type: model.TypeEvent, Kind: model.KindDestroyed})
	gap := (<-stalled.C()).(*model.Event)
	if gap.Kind != model.KindGap || gap.Dropped != 998 {
		t.Errorf("after draining, want a gap of 998, got %s dropped %d", gap.Kind, gap.Dropped)
	}
	if next := (<-stalled.C()).(*model.Event); next.Kind != model.KindDestroyed {
		t.Errorf("after the gap: %s", next.Kind)
	}
	stalled.Cancel()
	fast.Cancel()
	stalled.Cancel() // idempotent
}

func TestSinceResumesFromTheRing(t *testing.T) {
	h := NewBroadcasterWithRing(5)
	for i := 0; i < 3; i++ {
		h.Publish(&model.Event{Type: model.TypeEvent})
	}
	objs, complete := h.Since(1, 0)
	if !complete || len(objs) != 2 || objs[0].ObjectSeq() != 2 {
		t.Fatalf("since 1: %d objects complete=%v", len(objs), complete)
	}
	for i := 0; i < 10; i++ {
		h.Publish(&model.Event{Type: model.TypeEvent})
	}
	// seqs 9..13 are kept; resuming after 8 is complete, after 2 is not.
	if objs, complete := h.Since(8, 0); !complete || len(objs) != 5 || objs[0].ObjectSeq() != 9 {
		t.Errorf("since 8: %d objects complete=%v", len(objs), complete)
	}
	if _, complete := h.Since(2, 0); complete {
		t.Error("resuming from a seq that left the ring must ask for a full refresh")
	}
	if objs, _ := h.Since(10, 2); len(objs) != 2 || objs[1].ObjectSeq() != 12 {
		t.Errorf("limit: %d objects", len(objs))
	}
}
