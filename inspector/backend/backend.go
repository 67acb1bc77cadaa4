// Package backend defines what a session store delivers to the tracker: raw key
// events, the inventory of sessions that already exist, status changes, and payload
// reads. Stores (Redis, the embedded memory store, PHP session files) implement Store.
package backend

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Op is a raw key operation, named after Redis keyspace events.
type Op uint8

// Raw operations.
const (
	OpSet Op = iota + 1
	OpExpire
	OpDel
	OpExpired
	OpEvicted
	OpRenameFrom
	OpRenameTo
	OpHSet
	OpNew
	OpPersist
	OpHDel
	// OpGap marks lost events between From and To (queue overflow or disconnect).
	OpGap
	// OpRestore is RESTORE, which in a Redis Cluster is the target's half of a slot
	// migration (MIGRATE restores the key there, then deletes it on the source).
	OpRestore
)

var opNames = map[string]Op{
	"set": OpSet, "expire": OpExpire, "del": OpDel, "expired": OpExpired, "evicted": OpEvicted,
	"rename_from": OpRenameFrom, "rename_to": OpRenameTo, "hset": OpHSet, "new": OpNew,
	"persist": OpPersist, "hdel": OpHDel, "restore": OpRestore,
}

// ParseOp maps a Redis keyevent name to an Op; ok is false for events sessionscope
// does not use (append, incrby, lpush, ...).
func ParseOp(name string) (Op, bool) {
	op, ok := opNames[name]
	return op, ok
}

// String names the op as Redis does.
func (o Op) String() string {
	for n, v := range opNames {
		if v == o {
			return n
		}
	}
	if o == OpGap {
		return "gap"
	}
	return "unknown"
}

// RawEvent is one key operation as the store reported it.
type RawEvent struct {
	Time time.Time
	Op   Op
	Key  string
	Node string
	// Gap is set for OpGap only; a pointer keeps the common event small, since the raw
	// queue holds up to a few hundred thousand of them.
	Gap *GapInfo
	// Evidence, when set, is carried into the event built from this operation: "poll"
	// marks an operation inferred by diffing two SCAN passes rather than reported.
	Evidence string
	// Continues marks a notification that belongs to the same Redis command as the one
	// before it on this node's stream: Redis publishes one command's notifications
	// back to back (SETEX: new, set, expire; RENAME: new, rename_from, rename_to).
	// Set by the store, which sees the stream before the session-key filter.
	Continues bool
}

// GapInfo describes lost events.
type GapInfo struct {
	From, To time.Time
	Dropped  int64
	Reason   string
}

// InventoryItem is a session that existed when sessionscope attached.
type InventoryItem struct {
	Key  string
	Node string
	TTL  time.Duration // -1: no TTL
	Size int
	Read time.Time // when the metadata was read
	Type framework.KeyType
	// Kind says what the item carries; the zero value is a complete item.
	Kind ItemKind
	// Index numbers a two-phase inventory's keys on their node, from 0 in the order
	// phase one listed them; phase two's item for a key carries the same Index, so
	// that the tracker finds the session it listed without a lookup by key.
	Index int32
}

// ItemKind is what an InventoryItem carries. A Redis inventory runs in two phases so
// that every session is listed at SCAN speed, and the two PTTL/size reads per key,
// which cost Redis more than the SCAN itself, come after.
type ItemKind uint8

// Inventory item kinds.
const (
	// ItemComplete is a session with its TTL and size: the tracker adds it.
	ItemComplete ItemKind = iota
	// ItemListed is a session key that SCAN listed (phase one): the tracker adds it
	// with its TTL and size not read yet.
	ItemListed
	// ItemFilled is the TTL and size of a session listed earlier (phase two). It never
	// adds a session: a key the tracker no longer holds has ended since.
	ItemFilled
)

// DefaultMaxPayloadBytes is the default cap of one payload read: sessions are small,
// and a larger value is cut and shown as truncated rather than transferred whole.
const DefaultMaxPayloadBytes = 64 << 10

// ReadRequest asks for a key's payload and TTL.
type ReadRequest struct {
	Key      string
	Type     framework.KeyType
	MaxBytes int  // size cap; 0 means the default cap
	TTLOnly  bool // read only the TTL (a touch needs no payload)
	// Locate asks, with the TTL, which master holds the key now (ReadResult.Node).
	// Only a PartialFollower answers it; other stores read the TTL alone.
	Locate bool
}

// ReadResult is the answer to a ReadRequest.
type ReadResult struct {
	Key       string
	Exists    bool
	Data      []byte            // string payloads, at most MaxBytes
	Hash      []codec.HashField // hash payloads
	Size      int               // full size in bytes (string length or field count)
	TTL       time.Duration     // -1: no TTL
	Truncated bool
	TTLOnly   bool // the request asked for the TTL only
	// Node is, for a Locate request on a key that exists, the master that holds it.
	Node string
	Err  error
}

// PartialFollower is a Store that follows only some masters of the Redis Cluster
// it reads (--nodes), leaving the others to other sessionscope processes: a slot
// migration can carry a session out of its view, or into it, with only one of the
// migration's two halves seen here.
type PartialFollower interface {
	// FollowsPart reports whether the store follows only some of the cluster's masters.
	FollowsPart() bool
}

// Feed carries a store's output to the tracker. Raw is bounded and the store never
// blocks on it: overflow is counted and reported as an OpGap once there is room.
// Inventory and Status are paced by the tracker: a slow tracker slows the scan, never
// the watched store.
type Feed struct {
	Raw       chan RawEvent
	Inventory chan []InventoryItem
	Status    chan model.Status
	// Resync carries the re-inventory of a node after a gap, framed by ResyncBegin and
	// ResyncEnd (or ResyncAbort) on the one channel, so the tracker sees the frame and
	// the items in order.
	Resync chan Resync
	// spill is the raw capacity beyond Raw's buffer, held by the feed's queues (Queue)
	// as they need it; nil when Raw's buffer is the whole capacity.
	spill *rawSpill
}

// rawHandoff is the most of a feed's raw capacity that Raw's own buffer takes. A
// channel's buffer is allocated whole when it is made, and the default capacity
// (half a million events of 96 bytes) was 48 MB held from the start, a sixth of the
// heap with a million sessions tracked, for a backlog that only a burst fills. The
// rest of the capacity is in the queues' spill buffers, which grow with a backlog
// and are given back once it is drained.
const rawHandoff = 1 << 14

// rawSpill bounds what the spill buffers of one feed's queues hold together, so
// that the feed's raw capacity stays the one NewFeed was given.
type rawSpill struct {
	bound int64
	held  atomic.Int64 // events in spill buffers, or taken out and not yet in Raw
}

// NewFeed makes a feed with a raw queue of the given capacity.
func NewFeed(rawCapacity int) Feed {
	handoff := min(rawCapacity, rawHandoff)
	f := Feed{
		Raw:       make(chan RawEvent, handoff),
		Inventory: make(chan []InventoryItem, 4),
		Status:    make(chan model.Status, 64),
		Resync:    make(chan Resync, 4),
	}
	if rawCapacity > handoff {
		f.spill = &rawSpill{bound: int64(rawCapacity - handoff)}
	}
	return f
}

// RawLen is the number of raw events queued: in Raw, and in the spill buffers of
// the queues made by Queue.
func (f Feed) RawLen() int {
	n := len(f.Raw)
	if f.spill != nil {
		n += int(f.spill.held.Load())
	}
	return n
}

// Queue makes the queue one goroutine pushes a node's raw events through, with the
// feed's whole raw capacity (NewQueue has Raw's buffer only). ctx is the store's run:
// when it ends, events still spilled are abandoned with the feed, and the goroutine
// forwarding them returns instead of waiting for a tracker that no longer reads.
func (f Feed) Queue(ctx context.Context, node string) *Queue {
	q := NewQueue(f.Raw, node)
	q.spill = f.spill
	q.done = ctx.Done()
	return q
}

// ResyncPhase is a step of a re-inventory after a gap.
type ResyncPhase uint8

// Resync phases.
const (
	// ResyncBegin opens the re-inventory of Node. The tracker processes every raw event
	// queued so far, then closes Started; the store scans only after that, so that any
	// change the scan may miss reaches the tracker as a live event of this resync.
	ResyncBegin ResyncPhase = iota + 1
	// ResyncItems carries sessions the re-inventory found.
	ResyncItems
	// ResyncEnd means the scan completed: every session of Node not found was gone.
	ResyncEnd
	// ResyncAbort means the scan failed: the tracker forgets this resync and keeps its
	// table; the store retries.
	ResyncAbort
)

// Resync is one message of a re-inventory after a gap.
type Resync struct {
	Phase   ResyncPhase
	Node    string
	Gap     GapInfo         // ResyncBegin: the span being reconciled
	Items   []InventoryItem // ResyncItems
	Started chan struct{}   // ResyncBegin: closed by the tracker once the resync is open
}

// Store is a watched session store.
type Store interface {
	// Name is the backend id shown in events ("redis", "memory", "files").
	Name() string
	// Describe is a human description with secrets hidden.
	Describe() string
	// Run streams raw events and the inventory into feed until ctx ends.
	Run(ctx context.Context, feed Feed) error
	// Read fetches payloads, pipelined. It returns one result per request, in order.
	Read(ctx context.Context, reqs []ReadRequest) []ReadResult
}

// Queue is the bounded, never-blocking hand-off from a subscription reader to the
// tracker. One goroutine pushes; overflow is counted and turned into one OpGap event
// as soon as the queue has room again.
type Queue struct {
	ch       chan RawEvent
	dropped  atomic.Int64 // total since start
	pending  int64        // dropped since the last gap event (pusher goroutine only)
	gapStart time.Time
	node     string
	gaps     chan GapInfo // gaps enqueued, merged while nobody reads them

	// Beyond ch's buffer (Feed.Queue): events wait in order in a ring that grows as
	// needed, and a forwarding goroutine, running while the ring holds any, moves
	// them into ch as the tracker makes room. backlog counts them until they are in
	// ch, so that the pusher sends straight to ch only when nothing of its is waiting.
	spill      *rawSpill
	backlog    atomic.Int64
	mu         sync.Mutex // guards ring, head, n, forwarding
	ring       []RawEvent
	head, n    int
	forwarding bool
	done       <-chan struct{} // the store's run ended (Feed.Queue)
	forwardWG  sync.WaitGroup  // the forwarding goroutine, for tests
}

// spillKept is the ring capacity a drained queue keeps; a larger ring is given back.
const spillKept = 1024

// NewQueue wraps feed.Raw for one pushing goroutine.
func NewQueue(ch chan RawEvent, node string) *Queue {
	return &Queue{ch: ch, node: node, gaps: make(chan GapInfo, 1)}
}

// Gaps delivers the gaps this queue has reported, so that the store can re-inventory
// what they may have hidden. Gaps not yet received are merged into one; a store that
// does not resync may ignore the channel.
func (q *Queue) Gaps() <-chan GapInfo { return q.gaps }

// reported records a gap that reached the tracker. Only the pushing goroutine sends on
// q.gaps, so taking the unread one out and merging cannot race with another sender.
func (q *Queue) reported(g GapInfo) {
	select {
	case old := <-q.gaps:
		g = MergeGaps(old, g)
	default:
	}
	select {
	case q.gaps <- g:
	default:
	}
}

// MergeGaps is the smallest gap that covers a and b.
func MergeGaps(a, b GapInfo) GapInfo {
	m := GapInfo{From: minTime(a.From, b.From), To: a.To, Dropped: a.Dropped + b.Dropped, Reason: a.Reason}
	if b.To.After(m.To) {
		m.To = b.To
	}
	if m.Reason == "" || b.Reason != "" && b.Reason != a.Reason {
		m.Reason = b.Reason
	}
	return m
}

// Push enqueues ev without blocking. It reports false when ev was dropped.
func (q *Queue) Push(ev RawEvent) bool {
	if q.pending > 0 {
		gap := RawEvent{Time: ev.Time, Op: OpGap, Node: q.node, Gap: &GapInfo{From: q.gapStart, To: ev.Time,
			Dropped: q.pending, Reason: "queue overflow: sessionscope could not keep up"}}
		if !q.offer(gap) {
			q.drop(ev)
			return false
		}
		q.pending = 0
		q.reported(*gap.Gap)
	}
	if !q.offer(ev) {
		q.drop(ev)
		return false
	}
	return true
}

// offer enqueues ev without blocking, in ch or else in the spill ring; false when
// the feed's capacity is used up.
func (q *Queue) offer(ev RawEvent) bool {
	if q.backlog.Load() == 0 {
		select {
		case q.ch <- ev:
			return true
		default:
		}
	}
	if q.spill == nil {
		return false
	}
	if q.spill.held.Add(1) > q.spill.bound {
		q.spill.held.Add(-1)
		return false
	}
	q.backlog.Add(1)
	q.mu.Lock()
	if q.n == len(q.ring) {
		grown := make([]RawEvent, max(2*len(q.ring), spillKept))
		for i := range q.n {
			grown[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = grown, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = ev
	q.n++
	start := !q.forwarding
	q.forwarding = true
	q.mu.Unlock()
	if start {
		q.forwardWG.Add(1)
		go q.forward()
	}
	return true
}

// forward moves the spill ring into ch in order, blocking on ch as the tracker
// would have made the pusher wait, and returns once the ring is empty, or when the
// store's run has ended (the tracker reads no more then).
func (q *Queue) forward() {
	defer q.forwardWG.Done()
	for {
		q.mu.Lock()
		if q.n == 0 {
			q.forwarding = false
			if len(q.ring) > spillKept {
				q.ring, q.head = nil, 0 // the burst is over: give its memory back
			}
			q.mu.Unlock()
			return
		}
		ev := q.ring[q.head]
		q.ring[q.head] = RawEvent{}
		q.head = (q.head + 1) % len(q.ring)
		q.n--
		q.mu.Unlock()
		select {
		case q.ch <- ev:
		case <-q.done:
			return
		}
		q.backlog.Add(-1)
		q.spill.held.Add(-1)
	}
}

func (q *Queue) drop(ev RawEvent) {
	if q.pending == 0 {
		q.gapStart = ev.Time
	}
	q.pending++
	q.dropped.Add(1)
}

// PushGap reports events lost between from and to for another reason (a disconnect).
// When the queue is full it folds into the overflow gap instead of blocking.
func (q *Queue) PushGap(from, to time.Time, reason string) {
	gap := RawEvent{Time: to, Op: OpGap, Node: q.node, Gap: &GapInfo{From: from, To: to, Reason: reason}}
	if q.pending > 0 {
		gap.Gap.From, gap.Gap.Dropped = minTime(q.gapStart, from), q.pending
	}
	if q.offer(gap) {
		q.pending = 0
		q.reported(*gap.Gap)
	} else {
		if q.pending == 0 {
			q.gapStart = from
		}
		q.pending++ // the gap marker itself stands for the lost stretch
	}
}

// Flush emits a pending overflow gap when the queue has room again, so that a burst
// followed by silence is still reported.
func (q *Queue) Flush(now time.Time) {
	if q.pending == 0 {
		return
	}
	gap := RawEvent{Time: now, Op: OpGap, Node: q.node, Gap: &GapInfo{From: q.gapStart, To: now,
		Dropped: q.pending, Reason: "queue overflow: sessionscope could not keep up"}}
	if q.offer(gap) {
		q.pending = 0
		q.reported(*gap.Gap)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Dropped is the number of events dropped since start.
func (q *Queue) Dropped() int64 { return q.dropped.Load() }

// CommandGrouper tells which notifications of a node's stream belong to one Redis
// command. Redis runs a command to the end before the next, and publishes its
// notifications back to back: SETEX and SET EX publish new (when the key is new), set,
// expire; HSET new, hset; RESTORE new, restore; RENAME new (of the destination),
// rename_from, rename_to. A notification continues the one before it when the pair
// is one of those shapes, on the same key (rename_from names the source). A write
// followed by an EXPIRE of the same key counts as one command only within ttlGap: a
// separate EXPIRE later, a touch, is its own event. The store feeds it every
// notification, including the ones on keys it then filters out, so that another
// key's command in between breaks the adjacency.
type CommandGrouper struct {
	op  Op
	key string
	at  time.Time
}

// ttlGap bounds the arrival gap between a write and an EXPIRE of the same key that
// counts as part of it. The notifications of one SETEX leave Redis in one write and
// are parsed back to back, but a loaded machine can deschedule the reader between
// the two for tens of milliseconds (a million SETEX on two busy cores split 3 to 21
// of them at 10 ms, up to 112 at 50 ms), which is why the reader also says whether
// the EXPIRE was already buffered. A separate EXPIRE that close after a write with no
// other notification between is the app's own TTL for that write, not a later touch.
const ttlGap = 50 * time.Millisecond

// Next reports whether (op, key), arriving at at, continues the command of the
// notification before it. An op the store does not use is passed as 0. buffered says
// the reader had received the notification, or the start of it, with the one before:
// it came in the same read, as one command's notifications do, however long the
// reader was descheduled in between. (A read may end inside a frame: the frame that
// a later read completes still began in the same write as the one before it.)
func (g *CommandGrouper) Next(op Op, key string, at time.Time, buffered bool) bool {
	prev, prevKey, prevAt := g.op, g.key, g.at
	g.op, g.key, g.at = op, key, at
	if op == 0 || prev == 0 {
		return false
	}
	switch prev {
	case OpNew:
		// new precedes the command's own notification on the same key, except for
		// RENAME, whose new names the destination and is followed by rename_from.
		// No command publishes new alone, so adjacency decides, whatever the time.
		return op == OpRenameFrom || key == prevKey && (op == OpSet || op == OpHSet || op == OpRestore)
	case OpSet, OpHSet:
		// SETEX and SET EX publish set, expire. A hash store sets the TTL with a
		// second command sent with the write (Spring Session: HSET, EXPIRE), and so
		// do clients that send SET then EXPIRE: back to back, the TTL is part of
		// that write, not a touch of its own.
		return op == OpExpire && key == prevKey && (buffered || at.Sub(prevAt) <= ttlGap)
	case OpRenameFrom:
		return op == OpRenameTo
	}
	return false
}
