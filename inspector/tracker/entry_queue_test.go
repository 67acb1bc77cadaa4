package tracker

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestEntryQueueOrder pushes deadlines as the tracker does — mostly in order (first
// event plus the window), some earlier (a wait for a read, a postponement, another
// node's event) — interleaved with pops, and checks every pop against a plain list:
// it must return the earliest deadline queued, and nothing may be lost.
func TestEntryQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now()
	var q entryQueue
	var model []time.Time // what is queued
	clock := 0
	popOne := func(round int) {
		e := q.pop()
		if len(model) == 0 {
			if e != nil {
				t.Fatalf("round %d: an empty queue returned %v", round, e.deadline.Sub(base))
			}
			return
		}
		earliest := slices.MinFunc(model, time.Time.Compare)
		i := slices.IndexFunc(model, earliest.Equal)
		if e == nil || !e.deadline.Equal(model[i]) {
			t.Fatalf("round %d: popped %v, the earliest queued is %v", round, e, model[i].Sub(base))
		}
		model = slices.Delete(model, i, i+1)
	}
	for round := 0; round < 50_000; round++ {
		switch r := rng.IntN(10); {
		case r < 6: // in order
			clock += rng.IntN(3)
			d := base.Add(time.Duration(clock) * time.Millisecond)
			q.push(&entry{deadline: d})
			model = append(model, d)
		case r < 7: // earlier than the newest
			d := base.Add(time.Duration(clock-rng.IntN(50)) * time.Millisecond)
			q.push(&entry{deadline: d})
			model = append(model, d)
		default:
			popOne(round)
		}
		if q.Len() != len(model) {
			t.Fatalf("round %d: Len %d, %d queued", round, q.Len(), len(model))
		}
	}
	for len(model) > 0 {
		popOne(-1)
	}
	if q.pop() != nil || q.peek() != nil || q.Len() != 0 {
		t.Fatal("an empty queue returned an entry")
	}
}
