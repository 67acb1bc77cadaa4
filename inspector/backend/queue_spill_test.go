package backend

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// TestQueueSpillKeepsCapacity: a feed larger than Raw's own buffer takes exactly its
// capacity in order, drops past it and reports the drop as a gap, as a channel of
// that capacity did, and gives the spill ring back once it is drained.
func TestQueueSpillKeepsCapacity(t *testing.T) {
	const capacity = rawHandoff + 3000
	t0 := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	f := NewFeed(capacity)
	if cap(f.Raw) != rawHandoff {
		t.Fatalf("Raw's buffer holds %d events, want %d", cap(f.Raw), rawHandoff)
	}
	q := f.Queue(t.Context(), "n1")
	for i := range capacity {
		if !q.Push(RawEvent{Time: t0, Op: OpSet, Key: strconv.Itoa(i)}) {
			t.Fatalf("event %d of %d dropped", i, capacity)
		}
	}
	if q.Push(RawEvent{Time: t0.Add(time.Second), Op: OpSet, Key: "over"}) {
		t.Fatal("an event past the capacity was taken")
	}
	if got := f.RawLen(); got != capacity {
		t.Fatalf("RawLen = %d, want %d", got, capacity)
	}
	for i := range capacity {
		if ev := <-f.Raw; ev.Key != strconv.Itoa(i) {
			t.Fatalf("event %d is %q: out of order", i, ev.Key)
		}
	}
	if !q.Push(RawEvent{Time: t0.Add(2 * time.Second), Op: OpSet, Key: "after"}) {
		t.Fatal("push after draining dropped")
	}
	if gap := <-f.Raw; gap.Op != OpGap || gap.Gap.Dropped != 1 || !gap.Gap.From.Equal(t0.Add(time.Second)) {
		t.Fatalf("first event after the overflow = %+v, want a gap of 1 from the dropped event", gap)
	}
	if ev := <-f.Raw; ev.Key != "after" {
		t.Fatalf("event after the gap = %q", ev.Key)
	}
	// The forwarder counts an event out after handing it over: wait for it to finish.
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		idle, ringLen := !q.forwarding, len(q.ring)
		q.mu.Unlock()
		if idle && f.RawLen() == 0 {
			if ringLen > spillKept {
				t.Errorf("drained queue keeps a ring of %d events, want at most %d", ringLen, spillKept)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spill not drained: RawLen %d, forwarding %v", f.RawLen(), !idle)
		}
		runtime.Gosched()
	}
}

// TestFeedWithinHandoffHasNoSpill: a feed no larger than Raw's buffer is the channel
// alone, as before spill buffers: a full channel drops at once.
func TestFeedWithinHandoffHasNoSpill(t *testing.T) {
	f := NewFeed(4)
	q := f.Queue(t.Context(), "n1")
	for i := range 4 {
		if !q.Push(RawEvent{Op: OpSet, Key: strconv.Itoa(i)}) {
			t.Fatalf("event %d dropped", i)
		}
	}
	if q.Push(RawEvent{Op: OpSet, Key: "over"}) || f.RawLen() != 4 || cap(f.Raw) != 4 {
		t.Fatalf("a feed of 4: RawLen %d, cap %d; the fifth event must drop", f.RawLen(), cap(f.Raw))
	}
}

// BenchmarkQueueBacklog pushes events while one goroutine takes them, as a
// subscription reader and the tracker do: a channel the size of the whole capacity
// (as before spill buffers) against a feed whose backlog spills past Raw's buffer.
func BenchmarkQueueBacklog(b *testing.B) {
	const capacity = 1 << 19
	for _, tc := range []struct {
		name  string
		queue func() (*Queue, chan RawEvent)
	}{
		{"channel", func() (*Queue, chan RawEvent) {
			ch := make(chan RawEvent, capacity)
			return NewQueue(ch, "n"), ch
		}},
		{"spill", func() (*Queue, chan RawEvent) {
			f := NewFeed(capacity)
			return f.Queue(context.Background(), "n"), f.Raw
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q, ch := tc.queue()
			ev := RawEvent{Op: OpSet, Key: "PHPREDIS_SESSION:0123456789abcdef0123456789", Node: "n"}
			done := make(chan int)
			go func() {
				n := 0
				for e := range ch {
					if e.Op == OpGap {
						n += int(e.Gap.Dropped) // pushed, dropped, counted here
					} else {
						n++
					}
					if n == b.N {
						break
					}
				}
				done <- n
			}()
			b.ResetTimer()
			for range b.N {
				q.Push(ev)
			}
			for q.pending > 0 {
				q.Flush(time.Now())
				runtime.Gosched()
			}
			<-done
		})
	}
}

// TestQueueSpillForwarderEndsWithTheRun: a tracker that stops reading while events
// are spilled must not leave the forwarding goroutine (and its ring) behind.
func TestQueueSpillForwarderEndsWithTheRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := NewFeed(rawHandoff + 100)
	q := f.Queue(ctx, "n1")
	done := make(chan struct{})
	for i := range rawHandoff + 50 {
		if !q.Push(RawEvent{Op: OpSet, Key: "k" + strconv.Itoa(i), Node: "n1"}) {
			t.Fatalf("push %d refused below the capacity", i)
		}
	}
	forwarding := func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.forwarding
	}
	if !forwarding() {
		t.Fatal("no forwarding goroutine while events are spilled")
	}
	go func() {
		defer close(done)
		q.forwardWG.Wait()
	}()
	cancel() // nobody reads Raw: the forwarder is blocked on it
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("forwarding goroutine still running 10 s after the run ended")
	}
}
