package inspector

import (
	"sync/atomic"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
)

// metricKinds are the event kinds counted one by one; anything else (a kind added
// later and not listed here) is counted under KindOther rather than lost.
var metricKinds = [...]model.Kind{
	model.KindCreated, model.KindUpdated, model.KindTouched, model.KindRegenerated,
	model.KindExpired, model.KindEvicted, model.KindDestroyed, model.KindGap, model.KindResynced,
}

// KindOther labels emitted events whose kind Metrics does not list by name.
const KindOther model.Kind = "other"

// counters are the numbers the tracker does not already keep. They are plain atomics
// bumped on the publishing path, which runs at the store's event rate: no map, no lock.
type counters struct {
	kinds     [len(metricKinds) + 1]atomic.Int64 // the last slot is KindOther
	exchanges atomic.Int64
}

func kindSlot(k model.Kind) int {
	for i, mk := range metricKinds {
		if mk == k {
			return i
		}
	}
	return len(metricKinds)
}

// countingPublisher sits between the tracker and the broadcaster, so every event the tracker
// emits — whatever code path emits it — is counted once, by kind.
type countingPublisher struct {
	broadcast *stream.Broadcaster
	c         *counters
}

func (p countingPublisher) Publish(o model.Object) {
	if ev, ok := o.(*model.Event); ok {
		p.c.kinds[kindSlot(ev.Kind)].Add(1)
	}
	p.broadcast.Publish(o)
}

// Metrics is a snapshot of the inspector's counters, for a metrics endpoint. Counters
// only grow while the process runs; the inventory figures are those of the latest
// status a backend reported.
type Metrics struct {
	// Events counts emitted events by kind (every kind of the vocabulary, zeros
	// included, plus KindOther).
	Events map[model.Kind]int64
	// RawEvents counts raw key events the tracker took from the store.
	RawEvents int64
	// Dropped counts raw events lost between the store and the tracker (queue overflow).
	Dropped int64
	// Gaps counts gap events: disconnects and overflows.
	Gaps int64
	// Migrated counts sessions a Redis Cluster slot migration moved to another master.
	Migrated int64
	// HandedOver counts sessions a slot migration carried to a master another process
	// follows (--nodes); Arrived those it brought from one. Neither ended nor began.
	HandedOver, Arrived int64
	// Reads counts payload and TTL reads done; ReadsOverBudget the ones skipped
	// because the read budget was spent.
	Reads, ReadsOverBudget int64
	// ReadBudget is the configured payload reads per second; negative means unlimited.
	ReadBudget float64
	// Exchanges counts HTTP exchanges captured (PublishExchange).
	Exchanges int64
	// Sessions is the number of tracked sessions.
	Sessions int
	// Inventory is the latest inventory progress; nil before the backend reported any.
	Inventory *model.Inventory
}

// Metrics reads the counters now. It is cheap enough for every scrape: atomics, the
// session count under a read lock, and the last status.
func (in *Inspector) Metrics() Metrics {
	st := in.tracker.Stats()
	m := Metrics{
		Events:    make(map[model.Kind]int64, len(metricKinds)+1),
		RawEvents: st.RawEvents.Load(), Dropped: st.Dropped.Load(), Gaps: st.Gaps.Load(),
		Migrated: st.Migrated.Load(), HandedOver: st.HandedOver.Load(), Arrived: st.Arrived.Load(), Reads: st.Reads.Load(), ReadsOverBudget: st.BudgetDenied.Load(), ReadBudget: in.tracker.ReadBudget(),
		Exchanges: in.counts.exchanges.Load(), Sessions: in.tracker.SessionCount(),
	}
	for i, k := range metricKinds {
		m.Events[k] = in.counts.kinds[i].Load()
	}
	m.Events[KindOther] = in.counts.kinds[len(metricKinds)].Load()
	if inv := in.tracker.LastStatus().Inventory; inv != nil {
		cp := *inv
		m.Inventory = &cp
	}
	return m
}
