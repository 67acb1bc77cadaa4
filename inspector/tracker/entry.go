package tracker

import (
	"container/heap"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// entry collects the raw operations of one Redis command on one key (SETEX is set and
// expire), and waits for the correlation window so that it can be paired with
// commands on other keys (a regeneration). A key written again before its entry is
// decided gets a second entry, chained to the first (prev) and decided after it.
type entry struct {
	key          string
	command      uint64 // the node's command number (Tracker.commands)
	prev         *entry // the key's earlier entry still undecided when this one opened
	next         *entry // the key's next entry, opened while this one was undecided
	m            framework.Match
	node         string
	first        time.Time
	deadline     time.Time
	ops          uint32 // bit per backend.Op
	writes       int
	knownAtStart bool // the key was a tracked session when the entry opened
	// sess is the key's session (nil: none) as the table held it when the entry
	// opened, at generation sessGen (0: not looked up). While it is still in the
	// table, deciding the entry needs no second lookup in a table of 100,000 keys,
	// each a cache miss or two (Tracker.sessionOf).
	sess    *session
	sessGen uint64
	// latest says the entry is the key's one in Tracker.pending, so that deciding it
	// removes it without first looking it up.
	latest bool

	reading     bool // a read is in flight
	readTTLOnly bool // the last read asked only for the TTL
	wantPayload bool // read the payload again when the read in flight returns
	// readSuperseded: the key was written again (a later entry) before this entry's
	// payload read answered, so the answer may describe the later write.
	readSuperseded bool
	payloadReadAt  time.Time // when the last payload read answered
	writeGen       int       // writes seen so far
	readGen        int       // writeGen when the last read was issued
	result         *fetchResult
	unread         string

	renameFrom  string // for rename_to: the source key
	delNode     string // the node that published the del, for a slot migration
	restoreNode string // the node that published the restore
	evidence    string // from the raw event: "poll" when the op was inferred by polling
	consumed    bool   // absorbed into a regeneration or rename: emits nothing
	done        bool
	waits       int
	postponed   int
}

func (e *entry) has(op backend.Op) bool { return e.ops&(1<<op) != 0 }

// ttlRead reports whether the entry's TTL came from a read of the key (PTTL with the
// payload), as opposed to being inferred from which notifications arrived.
func (e *entry) ttlRead() bool {
	return e.result != nil && e.result.res.Exists && e.result.res.Err == nil
}

// migratesWith reports whether op, published by node, is the other half of a slot
// migration whose first half this entry holds. MIGRATE restores the key on the target
// master and then deletes it on the source; the two masters publish on two
// subscriptions, so the halves arrive in either order, within a moment.
//
// The target's half is RESTORE, which Redis 7 publishes as new then restore. A del
// pairs only once the restore is in: "new" alone on another node is also what a
// node-local keyspace (the lab's servers that do not share sessions) publishes when a
// second server writes the same id, and there a del on the first is an end.
func (e *entry) migratesWith(op backend.Op, node string) bool {
	switch op {
	case backend.OpDel:
		return e.has(backend.OpRestore) && e.ops&endOps == 0 && e.restoreNode != node
	case backend.OpNew, backend.OpRestore:
		return e.ops&endOps == 1<<backend.OpDel && !e.has(backend.OpRestore) && e.delNode != node
	}
	return false
}

// migrationOps are the raw ops a slot migration itself publishes.
const migrationOps = 1<<backend.OpDel | 1<<backend.OpNew | 1<<backend.OpRestore

// migrated reports whether the entry holds both halves of a slot migration: the
// session lives on, on restoreNode.
func (e *entry) migrated() bool {
	return e.has(backend.OpDel) && e.has(backend.OpRestore) && e.delNode != e.restoreNode
}

const endOps = 1<<backend.OpDel | 1<<backend.OpExpired | 1<<backend.OpEvicted | 1<<backend.OpRenameFrom

// entryQueue orders pending entries by deadline. Almost every entry opens with a
// deadline of its first event plus the window, so deadlines arrive in order: those
// go to a FIFO, O(1) both ways. The others (an entry waiting a little longer for its
// read or for a birth to pair with, events from several nodes slightly out of order)
// go to a heap. The earlier of the two heads is the next due, so the order is exact.
// Under a full-rate ingest the heap alone cost a tenth of the tracker's CPU, most of
// it chasing entry pointers while sifting 60,000 entries.
type entryQueue struct {
	fifo []*entry
	head int // fifo[head:] are queued
	heap entryHeap
}

func (q *entryQueue) Len() int { return len(q.fifo) - q.head + len(q.heap) }

func (q *entryQueue) push(e *entry) {
	if n := len(q.fifo); n == q.head || !e.deadline.Before(q.fifo[n-1].deadline) {
		if q.head > 0 && q.head >= len(q.fifo)/2 && len(q.fifo) == cap(q.fifo) {
			// Reuse the consumed front rather than growing: the queue holds about one
			// window of entries, whatever the uptime.
			n := copy(q.fifo, q.fifo[q.head:])
			clear(q.fifo[n:])
			q.fifo, q.head = q.fifo[:n], 0
		}
		q.fifo = append(q.fifo, e)
		return
	}
	heap.Push(&q.heap, e)
}

// peek returns the entry due first, nil when empty.
func (q *entryQueue) peek() *entry {
	var f, h *entry
	if q.head < len(q.fifo) {
		f = q.fifo[q.head]
	}
	if len(q.heap) > 0 {
		h = q.heap[0]
	}
	if f == nil || (h != nil && h.deadline.Before(f.deadline)) {
		return h
	}
	return f
}

// pop removes and returns the entry due first, nil when empty.
func (q *entryQueue) pop() *entry {
	e := q.peek()
	switch {
	case e == nil:
	case len(q.heap) > 0 && e == q.heap[0]:
		heap.Pop(&q.heap)
	default:
		q.fifo[q.head] = nil
		q.head++
		if q.head == len(q.fifo) {
			q.fifo, q.head = q.fifo[:0], 0
		}
	}
	return e
}

// entryHeap is the heap half of entryQueue.
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface.
func (h *entryHeap) Push(x any) { *h = append(*h, x.(*entry)) }

// Pop implements heap.Interface.
func (h *entryHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return e
}

// recentWrites remembers the last writes per framework, so that a new session that
// carries the payload of a session written a moment before (a regeneration that kept
// the old key: phpredis regenerate(false) writes the old key, then the new one) can be
// found. Only the last recentPerFramework writes are kept: under a heavy write load the
// old_kept link degrades to "created" rather than costing a scan of every recent write.
type recentWrites struct {
	byFramework map[*framework.Framework]*writeRing
}

const recentPerFramework = 64

type writeRing struct {
	items [recentPerFramework]recentWrite
	next  int
	n     int
}

type recentWrite struct {
	key string
	at  time.Time
	// rewrite: the session provably existed before this write (its birth was seen
	// earlier, or a payload of it was read before), so the write is not its birth.
	rewrite bool
}

func (r *recentWrites) add(fw *framework.Framework, key string, at time.Time, rewrite bool) {
	ring := r.byFramework[fw]
	if ring == nil {
		ring = &writeRing{}
		r.byFramework[fw] = ring
	}
	ring.items[ring.next] = recentWrite{key: key, at: at, rewrite: rewrite}
	ring.next = (ring.next + 1) % recentPerFramework
	ring.n = min(ring.n+1, recentPerFramework)
}

// each calls fn for the remembered writes of fw, newest first.
func (r *recentWrites) each(fw *framework.Framework, fn func(recentWrite)) {
	ring := r.byFramework[fw]
	if ring == nil {
		return
	}
	for i := 1; i <= ring.n; i++ {
		fn(ring.items[(ring.next-i+recentPerFramework)%recentPerFramework])
	}
}
