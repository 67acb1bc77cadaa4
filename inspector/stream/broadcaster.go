// Package stream fans emitted objects out to subscribers. It stamps the process-wide
// sequence number and never blocks the publisher: each subscriber has a bounded queue,
// and one that falls behind loses objects, counted and reported to it as a gap.
package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// Broadcaster is the publish side. It also keeps the most recent objects in a ring, so that a
// consumer that reconnects can resume from its last seq.
type Broadcaster struct {
	seq  atomic.Uint64
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	ring []model.Object
	next int // ring write position
	full bool
}

// DefaultRingSize is how many recent objects a hub keeps for resuming consumers.
const DefaultRingSize = 10_000

// NewBroadcaster returns an empty broadcaster with a ring of DefaultRingSize objects.
func NewBroadcaster() *Broadcaster { return NewBroadcasterWithRing(DefaultRingSize) }

// NewBroadcasterWithRing returns an empty broadcaster keeping the last ringSize objects.
func NewBroadcasterWithRing(ringSize int) *Broadcaster {
	if ringSize < 1 {
		ringSize = 1
	}
	return &Broadcaster{subs: map[*Subscription]struct{}{}, ring: make([]model.Object, ringSize)}
}

// Since returns the kept objects with a seq above after, oldest first, at most limit
// of them. complete is false when objects after that seq have already left the ring:
// the consumer must then refresh its whole view instead of resuming.
func (h *Broadcaster) Since(after uint64, limit int) (objs []model.Object, complete bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.next
	if h.full {
		n = len(h.ring)
	}
	start := h.next - n
	if start < 0 {
		start += len(h.ring)
	}
	oldest := uint64(0)
	if n > 0 {
		oldest = h.ring[start].ObjectSeq()
	}
	complete = n == 0 || after+1 >= oldest || !h.full
	for i := 0; i < n; i++ {
		o := h.ring[(start+i)%len(h.ring)]
		if o.ObjectSeq() <= after {
			continue
		}
		objs = append(objs, o)
		if limit > 0 && len(objs) >= limit {
			break
		}
	}
	return objs, complete
}

// Subscription is one consumer's bounded queue.
type Subscription struct {
	c       chan model.Object
	hub     *Broadcaster
	dropped int64 // since the last gap marker; guarded by hub.mu
	gapFrom time.Time
	total   atomic.Int64
}

// C is the channel to read objects from. It is closed by Cancel.
func (s *Subscription) C() <-chan model.Object { return s.c }

// Dropped is how many objects this subscriber lost in total.
func (s *Subscription) Dropped() int64 { return s.total.Load() }

// Subscribe registers a consumer with a queue of the given capacity.
func (h *Broadcaster) Subscribe(capacity int) *Subscription {
	s := &Subscription{c: make(chan model.Object, capacity), hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Cancel unregisters the subscription and closes its channel.
func (s *Subscription) Cancel() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
	}
}

// Publish stamps o with the next sequence number and offers it to every subscriber.
func (h *Broadcaster) Publish(o model.Object) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o.SetSeq(h.seq.Add(1))
	h.ring[h.next] = o
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.full = true
	}
	for s := range h.subs {
		h.offer(s, o)
	}
}

// Seq is the last sequence number handed out.
func (h *Broadcaster) Seq() uint64 { return h.seq.Load() }

func (h *Broadcaster) offer(s *Subscription, o model.Object) {
	if s.dropped > 0 {
		from, to := s.gapFrom, time.Now()
		gap := &model.Event{Type: model.TypeEvent, Seq: h.seq.Add(1), Time: to, Kind: model.KindGap,
			Backend: "sessionscope", FromTime: &from, ToTime: &to, Dropped: s.dropped,
			Reason: "this consumer fell behind and missed objects"}
		select {
		case s.c <- gap:
			s.dropped = 0
		default:
			s.dropped++
			s.total.Add(1)
			return
		}
	}
	select {
	case s.c <- o:
	default:
		if s.dropped == 0 {
			s.gapFrom = time.Now()
		}
		s.dropped++
		s.total.Add(1)
	}
}
