// Emission order: events leave the tracker in event-time order.

package tracker

import (
	"github.com/sessionscope/sessionscope/inspector/model"
)

// An entry is decided when its window ends, later when it waits for a read or for a
// birth to pair with, so events are decided out of time order. They are held until no
// undecided entry is older, then published oldest first: watch, lab run and the feed
// read as the store's history, and rules see it in that order.

// entryFIFO holds every entry in the order it opened, which is the order of its first
// notification; done entries are skipped from the head.
type entryFIFO struct {
	items []*entry
	head  int
}

func (f *entryFIFO) push(e *entry) {
	if f.head > 0 && f.head >= len(f.items)/2 && len(f.items) == cap(f.items) {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	f.items = append(f.items, e)
}

// oldest returns the oldest undecided entry, nil when every entry is decided.
func (f *entryFIFO) oldest() *entry {
	for f.head < len(f.items) {
		if e := f.items[f.head]; !e.done {
			return e
		}
		f.items[f.head] = nil
		f.head++
	}
	f.items, f.head = f.items[:0], 0
	return nil
}

// readyEvents are decided events waiting for older entries, earliest first; seq keeps
// events of equal time in the order they were decided.
type readyEvents struct {
	evs []readyEvent
	seq uint64
}

type readyEvent struct {
	ev  *model.Event
	seq uint64
}

func (r *readyEvents) Len() int { return len(r.evs) }

// less orders by time, then by seq: a total order, so events leave in one order
// whatever the heap's shape.
func (r *readyEvents) less(i, j int) bool {
	a, b := r.evs[i], r.evs[j]
	if !a.ev.Time.Equal(b.ev.Time) {
		return a.ev.Time.Before(b.ev.Time)
	}
	return a.seq < b.seq
}

// add and pop keep a binary heap by hand: through container/heap every event was
// boxed into an interface twice (Push and Pop), two allocations per event.
func (r *readyEvents) add(ev *model.Event) {
	r.seq++
	r.evs = append(r.evs, readyEvent{ev: ev, seq: r.seq})
	for i := len(r.evs) - 1; i > 0; {
		parent := (i - 1) / 2
		if !r.less(i, parent) {
			break
		}
		r.evs[i], r.evs[parent] = r.evs[parent], r.evs[i]
		i = parent
	}
}

// pop removes and returns the earliest event; the heap is not empty.
func (r *readyEvents) pop() *model.Event {
	top := r.evs[0].ev
	n := len(r.evs) - 1
	r.evs[0] = r.evs[n]
	r.evs[n] = readyEvent{}
	r.evs = r.evs[:n]
	for i := 0; ; {
		least := i
		if l := 2*i + 1; l < n && r.less(l, least) {
			least = l
		}
		if rt := 2*i + 2; rt < n && r.less(rt, least) {
			least = rt
		}
		if least == i {
			break
		}
		r.evs[i], r.evs[least] = r.evs[least], r.evs[i]
		i = least
	}
	return top
}

// emit queues a decided event and publishes every event no undecided entry precedes.
func (t *Tracker) emit(ev *model.Event) {
	t.ready.add(ev)
	t.release()
}

// release publishes the held events that no undecided entry can precede any more.
func (t *Tracker) release() {
	oldest := t.order.oldest()
	for t.ready.Len() > 0 {
		next := t.ready.evs[0].ev
		if oldest != nil && next.Time.After(oldest.first) {
			return
		}
		t.ready.pop()
		t.publishEvent(next)
	}
}

func (t *Tracker) publishEvent(ev *model.Event) {
	t.stats.Emitted.Add(1)
	t.rules.Annotate(ev)
	t.pub.Publish(ev)
	t.rules.OnEvent(ev)
	t.publishFindings()
}
