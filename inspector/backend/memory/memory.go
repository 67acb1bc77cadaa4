// Package memory is sessionscope's embedded session store: the default backend of the
// training lab when no Redis is named. It implements backend.Store and emits the same
// raw key events a Redis 7 server publishes with notify-keyspace-events "Eg$hxen" for
// the equivalent commands, so the tracker, the rules and the dashboard run the same
// code whichever store the lab uses.
//
// Command equivalents and the events they emit (checked against redis-server 7):
//
//	Set with ttl > 0 (SETEX / SET EX)   new (only if the key did not exist), set, expire
//	Set with ttl <= 0 (SET)             new (only if the key did not exist), set
//	Expire with ttl > 0 (EXPIRE)        expire (nothing when the key is missing)
//	Expire with ttl <= 0 (EXPIRE 0)     del: Redis deletes instead of expiring
//	Del (DEL)                           del (nothing when the key is missing)
//	TTL reached                         expired (active expiry, or lazily on access)
//	MaxBytes exceeded                   evicted, for each victim, before the write's events
//
// A Store holds several keyspaces: the shared one (node "") and one per lab node that
// keeps its sessions locally, as a web server with its own Redis would. Raw events
// carry the keyspace's node name.
package memory

import (
	"container/heap"
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Notifications is the notify-keyspace-events value whose events the store emits. It
// is what sessionscope asks a Redis for (redisstore.RequiredFlags plus n), reported in
// status objects so the dashboard shows nothing missing.
const Notifications = "Eg$hxen"

// KeyOverhead approximates what Redis spends per string key beyond the key and value
// bytes (dict entry, robj, sds headers, expires entry); MaxBytes counts it so that many
// small sessions fill the store roughly as they would fill a Redis.
const KeyOverhead = 64

// ErrRunning is returned by Run when the store is already being watched: the store has
// one event stream, as a Redis subscription reader feeds one tracker.
var ErrRunning = errors.New("memory backend: already running; one Store feeds one inspector")

// Options configure a Store. Zero values take the documented defaults.
type Options struct {
	// Matcher says which keys are sessions; events and inventory leave the others out,
	// as redisstore does. Default: the builtin framework table.
	Matcher *framework.Matcher
	// MaxBytes caps each keyspace (key + value + KeyOverhead per key); 0 means no
	// limit. When a write would exceed it, least recently used keys of that keyspace
	// are evicted first, like Redis' allkeys-lru (exact LRU rather than Redis' sampled
	// approximation). A single value larger than MaxBytes empties the keyspace and is
	// kept anyway, where Redis would answer OOM.
	MaxBytes int64
	// MaxPayloadBytes is the default cap of Read; default backend.DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// InventoryBatch is how many keys one inventory batch holds; default 1000 (the
	// SCAN COUNT redisstore uses).
	InventoryBatch int
	// Now is the clock TTLs run on; default time.Now. The lab's tests run it ahead of
	// the wall clock to skip a scenario's waits, calling ClockMoved after each jump.
	// Events are stamped with the wall clock whatever it says.
	Now func() time.Time
}

// Store is an embedded, in-memory session store. It is safe for concurrent use. Until
// Run starts (and after it returns) mutations are only state: Run's inventory reports
// them, as a SCAN of a Redis would.
type Store struct {
	opts Options

	mu        sync.Mutex
	spaces    map[string]*keyspace
	deadlines deadlineHeap
	withTTL   int // live keys that have a deadline, to know when deadlines is mostly stale
	seq       uint64
	queue     *backend.Queue // nil while not running
	wake      chan struct{}  // tells the expiry loop an earlier deadline was added
	running   bool
}

// keyspace is one node's keys, with its LRU order for eviction.
type keyspace struct {
	node  string
	keys  map[string]*item
	lru   *list.List // front: most recently used; values are *item
	bytes int64
}

type item struct {
	key      string
	val      []byte
	deadline time.Time // zero: no TTL
	written  uint64    // store-wide write sequence, to find the latest of several copies
	elem     *list.Element
}

func (it *item) cost() int64 { return int64(len(it.key) + len(it.val) + KeyOverhead) }

// New makes an empty store.
func New(opts Options) *Store {
	if opts.Matcher == nil {
		opts.Matcher = framework.NewMatcher(framework.Builtin())
	}
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = backend.DefaultMaxPayloadBytes
	}
	if opts.InventoryBatch <= 0 {
		opts.InventoryBatch = 1000
	}
	return &Store{opts: opts, spaces: map[string]*keyspace{}, wake: make(chan struct{}, 1)}
}

// Name implements backend.Store.
func (s *Store) Name() string { return "memory" }

// Describe implements backend.Store.
func (s *Store) Describe() string { return "embedded memory store (lab)" }

// space returns node's keyspace, creating it when create is set.
func (s *Store) space(node string, create bool) *keyspace {
	ks := s.spaces[node]
	if ks == nil && create {
		ks = &keyspace{node: node, keys: map[string]*item{}, lru: list.New()}
		s.spaces[node] = ks
	}
	return ks
}

// emit hands one raw event to the tracker when the store is watched. Callers hold
// s.mu, which also serialises the Queue (it expects a single pusher). Push never
// blocks: a full queue becomes a gap, so a slow consumer never slows the lab app.
func (s *Store) emit(now time.Time, op backend.Op, node, key string) {
	s.emitCommand(now, op, node, key, false)
}

// emitCommand is emit for the second and later notifications of one command
// (continues set), as Redis publishes them: SETEX is new, set, expire.
func (s *Store) emitCommand(now time.Time, op backend.Op, node, key string, continues bool) {
	if s.queue == nil {
		return
	}
	if _, ok := s.opts.Matcher.Match(key); !ok {
		return
	}
	s.queue.Push(backend.RawEvent{Time: s.wall(now), Op: op, Key: key, Node: node, Continues: continues})
}

// now is the store's clock: Options.Now, else the wall clock.
func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// wall is the wall-clock time of a store time, which events and reads carry: the
// inspector joins them with HTTP exchanges, stamped with the wall clock, even when
// Options.Now runs ahead of it.
func (s *Store) wall(now time.Time) time.Time {
	if s.opts.Now == nil {
		return now
	}
	return time.Now()
}

// ClockMoved tells the store that Options.Now jumped forward: the keys whose TTL has
// run out expire (and emit expired) before it returns, rather than when the timer
// armed for the old time fires.
func (s *Store) ClockMoved() {
	s.expireDue(s.now())
	select {
	case s.wake <- struct{}{}: // the expiry loop re-arms its timer for the new time
	default:
	}
}

// live returns the key's item, expiring it first if its TTL has passed (Redis' lazy
// expiry, which publishes "expired" like the active kind). Callers hold s.mu.
func (s *Store) live(ks *keyspace, key string, now time.Time) *item {
	if ks == nil {
		return nil
	}
	it := ks.keys[key]
	if it == nil {
		return nil
	}
	if !it.deadline.IsZero() && !now.Before(it.deadline) {
		s.remove(ks, it)
		s.emit(now, backend.OpExpired, ks.node, key)
		return nil
	}
	return it
}

func (s *Store) remove(ks *keyspace, it *item) {
	delete(ks.keys, it.key)
	ks.lru.Remove(it.elem)
	ks.bytes -= it.cost()
	if !it.deadline.IsZero() {
		s.withTTL--
	}
}

// setDeadline changes an item's TTL and schedules its active expiry.
func (s *Store) setDeadline(it *item, node string, d time.Time) {
	if it.deadline.IsZero() && !d.IsZero() {
		s.withTTL++
	} else if !it.deadline.IsZero() && d.IsZero() {
		s.withTTL--
	}
	it.deadline = d
	if d.IsZero() {
		return
	}
	if len(s.deadlines) > 64 && len(s.deadlines) > 4*s.withTTL {
		s.compactDeadlines()
	}
	earliest := len(s.deadlines) == 0 || d.Before(s.deadlines[0].at)
	heap.Push(&s.deadlines, deadline{at: d, node: node, key: it.key})
	if earliest {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// compactDeadlines drops heap entries that no longer match a live key's deadline
// (rewritten or deleted keys), so a store rewritten often without Run stays small.
func (s *Store) compactDeadlines() {
	kept := s.deadlines[:0]
	for _, d := range s.deadlines {
		if ks := s.spaces[d.node]; ks != nil {
			if it := ks.keys[d.key]; it != nil && it.deadline.Equal(d.at) {
				kept = append(kept, d)
			}
		}
	}
	clear(s.deadlines[len(kept):])
	s.deadlines = kept
	heap.Init(&s.deadlines)
}

// Set stores val under key in node's keyspace ("" is the shared one), like SETEX when
// ttl > 0 and like SET (no TTL, any previous TTL cleared) otherwise. It emits new (for
// a key that did not exist), set, then expire when there is a TTL. The store keeps
// its own copy of val.
func (s *Store) Set(node, key string, val []byte, ttl time.Duration) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := s.space(node, true)
	old := s.live(ks, key, now)
	newCost := int64(len(key) + len(val) + KeyOverhead)
	if old != nil {
		newCost -= old.cost()
	}
	s.evictFor(ks, newCost, old, now)
	s.seq++
	created := old == nil
	if created {
		it := &item{key: key, val: append([]byte(nil), val...), written: s.seq}
		it.elem = ks.lru.PushFront(it)
		ks.keys[key] = it
		ks.bytes += it.cost()
		s.emit(now, backend.OpNew, node, key)
		old = it
	} else {
		ks.bytes -= old.cost()
		old.val = append(old.val[:0:0], val...)
		old.written = s.seq
		ks.bytes += old.cost()
		ks.lru.MoveToFront(old.elem)
	}
	s.emitCommand(now, backend.OpSet, node, key, created)
	if ttl > 0 {
		s.setDeadline(old, node, now.Add(ttl))
		s.emitCommand(now, backend.OpExpire, node, key, true)
	} else {
		s.setDeadline(old, node, time.Time{})
	}
}

// evictFor makes room for grow more bytes in ks by evicting its least recently used
// keys (never keep, the key being written). Redis evicts before it runs the command,
// so the evicted events precede the write's.
func (s *Store) evictFor(ks *keyspace, grow int64, keep *item, now time.Time) {
	if s.opts.MaxBytes <= 0 || grow <= 0 {
		return
	}
	for ks.bytes+grow > s.opts.MaxBytes {
		e := ks.lru.Back()
		for e != nil && e.Value.(*item) == keep {
			e = e.Prev()
		}
		if e == nil {
			return
		}
		victim := e.Value.(*item)
		s.remove(ks, victim)
		s.emit(now, backend.OpEvicted, ks.node, victim.key)
	}
}

// Get returns a copy of the value of key in node's keyspace. An expired key reads as
// missing and emits expired, like Redis' lazy expiry. A hit counts as use for LRU
// eviction.
func (s *Store) Get(node, key string) ([]byte, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.live(s.spaces[node], key, now)
	if it == nil {
		return nil, false
	}
	s.spaces[node].lru.MoveToFront(it.elem)
	return append([]byte(nil), it.val...), true
}

// Del deletes key from node's keyspace and emits del. It reports whether the key
// existed; deleting a missing key emits nothing, as in Redis.
func (s *Store) Del(node, key string) bool { return s.Expire(node, key, 0) }

// Expire sets key's TTL in node's keyspace and emits expire, like EXPIRE. A ttl <= 0
// deletes the key and emits del, as Redis does. It reports whether the key existed.
func (s *Store) Expire(node, key string, ttl time.Duration) bool {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := s.spaces[node]
	it := s.live(ks, key, now)
	if it == nil {
		return false
	}
	if ttl <= 0 {
		s.remove(ks, it)
		s.emit(now, backend.OpDel, node, key)
		return true
	}
	ks.lru.MoveToFront(it.elem)
	s.setDeadline(it, node, now.Add(ttl))
	s.emit(now, backend.OpExpire, node, key)
	return true
}

// TTL returns key's remaining time to live in node's keyspace: -1 when it has none,
// ok false when the key does not exist. Like PTTL it does not count as use for LRU,
// and an expired key is expired (and reported) on the spot.
func (s *Store) TTL(node, key string) (ttl time.Duration, ok bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.live(s.spaces[node], key, now)
	if it == nil {
		return 0, false
	}
	if it.deadline.IsZero() {
		return -1, true
	}
	return it.deadline.Sub(now), true
}

// Len is the number of keys in node's keyspace, expired keys not yet removed included.
func (s *Store) Len(node string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ks := s.spaces[node]; ks != nil {
		return len(ks.keys)
	}
	return 0
}

// Run implements backend.Store. It reports the keys that exist as inventory, then
// streams every mutation's raw events and expires keys when their TTL passes, until
// ctx ends. The inventory snapshot and the switch to streaming happen under one lock,
// so every key is either in the inventory or in the events, never lost between them.
func (s *Store) Run(ctx context.Context, feed backend.Feed) error {
	now := s.now()
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return ErrRunning
	}
	s.running = true
	s.queue = feed.Queue(ctx, "")
	items, scanned := s.snapshot(now)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.queue, s.running = nil, false
		s.mu.Unlock()
	}()

	s.sendStatus(feed, model.StateConnecting, nil)
	s.sendStatus(feed, model.StateInventory, &model.Inventory{})
	for start := 0; start < len(items); start += s.opts.InventoryBatch {
		batch := items[start:min(start+s.opts.InventoryBatch, len(items))]
		select {
		case feed.Inventory <- batch:
		case <-ctx.Done():
			return nil
		}
	}
	s.sendStatus(feed, model.StateLive, &model.Inventory{Scanned: scanned, Sessions: int64(len(items)), Done: true})
	s.expireLoop(ctx)
	return nil
}

// snapshot lists the live session keys of every keyspace, expiring silently (no
// one is listening yet) those whose TTL has passed. Callers hold s.mu.
func (s *Store) snapshot(now time.Time) ([]backend.InventoryItem, int64) {
	var items []backend.InventoryItem
	var scanned int64
	for _, ks := range s.spaces {
		for _, it := range ks.keys {
			if !it.deadline.IsZero() && !now.Before(it.deadline) {
				s.remove(ks, it)
				continue
			}
			scanned++
			m, ok := s.opts.Matcher.Match(it.key)
			if !ok {
				continue
			}
			ttl := time.Duration(-1)
			if !it.deadline.IsZero() {
				ttl = it.deadline.Sub(now)
			}
			items = append(items, backend.InventoryItem{Key: it.key, Node: ks.node, TTL: ttl,
				Size: len(it.val), Type: m.Framework.Type, Read: s.wall(now)})
		}
	}
	return items, scanned
}

// statusNode names the store in status lines ("sessionscope: memory: live; ..."),
// where Redis gives its address; the lab's node keyspaces are named on events.
const statusNode = "memory"

func (s *Store) sendStatus(feed backend.Feed, state string, inv *model.Inventory) {
	st := model.Status{Type: model.TypeStatus, Time: time.Now(), Backend: s.Name(), Node: statusNode, State: state,
		Notifications: &model.Notifications{Flags: Notifications}, Inventory: inv}
	select {
	case feed.Status <- st:
	default:
		// Status is advisory and the next one supersedes it; never block on it.
	}
}

// flushEvery is how often a pending overflow gap is retried when the store is quiet,
// so that a burst followed by silence is still reported (redisstore flushes on its
// one-second read timeout).
const flushEvery = time.Second

// expireLoop is Redis' active expiry: it sleeps until the earliest deadline, expires
// what is due and emits expired. Deadlines sit in a heap, so nothing scans the keys.
func (s *Store) expireLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-flush.C:
			s.mu.Lock()
			s.queue.Flush(now)
			s.mu.Unlock()
			continue
		case <-s.wake:
		case <-timer.C:
		}
		next := s.expireDue(s.now())
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(max(next.Sub(s.now()), 0))
		}
	}
}

// expireDue expires every key whose deadline has passed and returns the next
// deadline (zero when none is scheduled).
func (s *Store) expireDue(now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.deadlines) > 0 {
		d := s.deadlines[0]
		if now.Before(d.at) {
			return d.at
		}
		heap.Pop(&s.deadlines)
		ks := s.spaces[d.node]
		if ks == nil {
			continue
		}
		// A stale heap entry (the key was rewritten, re-expired or deleted since) has
		// a deadline that no longer matches: skip it.
		if it := ks.keys[d.key]; it != nil && it.deadline.Equal(d.at) {
			s.live(ks, d.key, now)
		}
	}
	return time.Time{}
}

// Read implements backend.Store. The tracker reads by key alone, so Read looks in
// every keyspace. When several keyspaces hold the key (two lab nodes that each keep a
// session with one id), it answers with the most recently written copy: that is the
// write the tracker's latest event is about. Reading counts as no use for LRU; an
// expired key is expired and reported, as Redis' PTTL and GETRANGE do.
func (s *Store) Read(ctx context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	now := s.now()
	out := make([]backend.ReadResult, len(reqs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range reqs {
		res := &out[i]
		res.Key, res.TTLOnly = r.Key, r.TTLOnly
		if err := ctx.Err(); err != nil {
			res.Err = fmt.Errorf("memory backend: read %q: %w", r.Key, err)
			continue
		}
		var it *item
		for _, ks := range s.spaces {
			if c := s.live(ks, r.Key, now); c != nil && (it == nil || c.written > it.written) {
				it = c
			}
		}
		if it == nil {
			continue // gone: Exists stays false
		}
		res.Exists = true
		res.TTL = -1
		if !it.deadline.IsZero() {
			res.TTL = it.deadline.Sub(now)
		}
		if r.TTLOnly {
			continue
		}
		if r.Type == framework.KeyHash {
			// Redis would answer WRONGTYPE to HLEN on a string; the memory store holds
			// strings only, which is all the lab writes.
			res.Err = fmt.Errorf("memory backend: %q: the memory store holds string values only, not hashes", r.Key)
			continue
		}
		limit := r.MaxBytes
		if limit <= 0 {
			limit = s.opts.MaxPayloadBytes
		}
		res.Size = len(it.val)
		res.Data = append([]byte(nil), it.val[:min(limit, len(it.val))]...)
		res.Truncated = len(it.val) > limit
	}
	return out
}

// deadline is one scheduled expiry; entries go stale when the key changes and are
// recognised by comparing at with the key's current deadline.
type deadline struct {
	at   time.Time
	node string
	key  string
}

type deadlineHeap []deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface.
func (h *deadlineHeap) Push(x any) { *h = append(*h, x.(deadline)) }

// Pop implements heap.Interface.
func (h *deadlineHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = deadline{}
	*h = old[:len(old)-1]
	return d
}
