package backend

import (
	"testing"
	"time"
)

func TestQueueOverflowBecomesOneGap(t *testing.T) {
	ch := make(chan RawEvent, 4)
	q := NewQueue(ch, "node1")
	t0 := time.Unix(1000, 0)
	for i := 0; i < 10; i++ {
		q.Push(RawEvent{Time: t0.Add(time.Duration(i) * time.Millisecond), Op: OpSet, Key: "k"})
	}
	if q.Dropped() != 6 {
		t.Fatalf("dropped %d, want 6", q.Dropped())
	}
	for i := 0; i < 4; i++ {
		if ev := <-ch; ev.Op != OpSet {
			t.Fatalf("event %d is %v", i, ev.Op)
		}
	}
	q.Push(RawEvent{Time: t0.Add(time.Second), Op: OpDel, Key: "k"})
	gap := <-ch
	if gap.Op != OpGap || gap.Gap.Dropped != 6 || gap.Node != "node1" {
		t.Fatalf("want a gap of 6 first, got %+v", gap)
	}
	if !gap.Gap.From.Equal(t0.Add(4*time.Millisecond)) || !gap.Gap.To.Equal(t0.Add(time.Second)) {
		t.Errorf("gap from %v to %v", gap.Gap.From, gap.Gap.To)
	}
	if ev := <-ch; ev.Op != OpDel {
		t.Errorf("the event after the gap is %v, want del", ev.Op)
	}
}

func TestQueueFlushReportsGapAfterSilence(t *testing.T) {
	ch := make(chan RawEvent, 1)
	q := NewQueue(ch, "")
	q.Push(RawEvent{Time: time.Unix(1, 0), Op: OpSet})
	q.Push(RawEvent{Time: time.Unix(2, 0), Op: OpSet}) // dropped
	<-ch
	q.Flush(time.Unix(3, 0))
	gap := <-ch
	if gap.Op != OpGap || gap.Gap.Dropped != 1 {
		t.Errorf("flush gave %+v", gap)
	}
}

func TestQueueNeverBlocks(t *testing.T) {
	q := NewQueue(make(chan RawEvent), "") // no reader at all
	for i := 0; i < 1000; i++ {
		q.Push(RawEvent{Op: OpSet})
	}
	q.PushGap(time.Unix(1, 0), time.Unix(2, 0), "disconnected")
	if q.Dropped() != 1000 {
		t.Errorf("dropped %d", q.Dropped())
	}
}

func TestParseOp(t *testing.T) {
	for name, op := range map[string]Op{"set": OpSet, "expire": OpExpire, "del": OpDel, "expired": OpExpired,
		"evicted": OpEvicted, "rename_from": OpRenameFrom, "rename_to": OpRenameTo, "hset": OpHSet, "new": OpNew} {
		got, ok := ParseOp(name)
		if !ok || got != op || got.String() != name {
			t.Errorf("ParseOp(%q) = %v %v", name, got, ok)
		}
	}
	if _, ok := ParseOp("lpush"); ok {
		t.Error("lpush is not a session op")
	}
}
