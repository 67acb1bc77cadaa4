package backend

import (
	"testing"
	"time"
)

// TestQueueReportsGaps: every gap that reaches the tracker is also offered to the store
// (to re-inventory), and gaps the store has not taken yet merge into one.
func TestQueueReportsGaps(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ch := make(chan RawEvent, 2)
	q := NewQueue(ch, "n1")
	select {
	case g := <-q.Gaps():
		t.Fatalf("gap %+v before any", g)
	default:
	}
	q.PushGap(at(1), at(2), "disconnected from Redis")
	// Overflow: fill the queue, drop two, then make room; the next push reports them.
	q.Push(RawEvent{Time: at(3), Op: OpSet, Key: "k"})
	q.Push(RawEvent{Time: at(4), Op: OpSet, Key: "k"})
	q.Push(RawEvent{Time: at(5), Op: OpSet, Key: "k"})
	<-ch
	<-ch
	q.Push(RawEvent{Time: at(6), Op: OpSet, Key: "k"})
	g := <-q.Gaps()
	if !g.From.Equal(at(1)) || !g.To.Equal(at(6)) || g.Dropped != 2 {
		t.Errorf("merged gap = %+v, want from %v to %v with 2 dropped", g, at(1), at(6))
	}
	select {
	case extra := <-q.Gaps():
		t.Errorf("a second gap %+v: unread gaps must merge", extra)
	default:
	}
}

func TestMergeGaps(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		a, b GapInfo
		want GapInfo
	}{
		{"disjoint", GapInfo{From: t0, To: t0.Add(time.Second), Reason: "x"}, GapInfo{From: t0.Add(5 * time.Second), To: t0.Add(6 * time.Second), Dropped: 3, Reason: "x"},
			GapInfo{From: t0, To: t0.Add(6 * time.Second), Dropped: 3, Reason: "x"}},
		{"b inside a", GapInfo{From: t0, To: t0.Add(9 * time.Second), Dropped: 1, Reason: "x"}, GapInfo{From: t0.Add(time.Second), To: t0.Add(2 * time.Second), Reason: "y"},
			GapInfo{From: t0, To: t0.Add(9 * time.Second), Dropped: 1, Reason: "y"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := MergeGaps(tc.a, tc.b)
			if !got.From.Equal(tc.want.From) || !got.To.Equal(tc.want.To) || got.Dropped != tc.want.Dropped || got.Reason != tc.want.Reason {
				t.Errorf("MergeGaps = %+v, want %+v", got, tc.want)
			}
		})
	}
}
