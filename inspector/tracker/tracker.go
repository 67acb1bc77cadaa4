// Package tracker turns a store's raw key operations into session lifecycle events:
// it coalesces the set+expire of one SETEX, tells created, updated and touched apart by
// reading payloads within a budget, links regenerations (rename, payload, timing),
// and describes expiry, eviction and destruction from the payload it cached.
//
// Every raw operation waits in a per-key entry for the correlation window (DESIGN.md:
// 300 ms) before it is emitted, so that a delete and a create that form one
// regeneration are joined first.
package tracker

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/time/rate"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/codec"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Config tunes the tracker. Zero values take the documented defaults.
type Config struct {
	Matcher           *framework.Matcher
	Backend           string        // backend id in events; default "redis"
	Window            time.Duration // correlation window; default 300 ms
	ReadBudget        float64       // payload reads per second; default 1000
	MaxPayloadBytes   int           // size cap per read; default 64 KiB
	PayloadCacheBytes int64         // decoded payloads kept for live sessions; default 256 MiB
	AuthMarkers       []string      // default DefaultAuthMarkers
	RevealIDs         bool          // show full ids instead of masked ones
	// FetchWait is how long an entry may wait past its window for its read; a slow
	// Redis then yields an event marked payload_unread: timeout instead of a stall.
	FetchWait time.Duration // default 2 s
	Logger    *slog.Logger
}

func (c *Config) defaults() {
	if c.Backend == "" {
		c.Backend = "redis"
	}
	if c.Window <= 0 {
		c.Window = 300 * time.Millisecond
	}
	if c.ReadBudget == 0 {
		c.ReadBudget = 1000
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = 64 << 10
	}
	if c.PayloadCacheBytes <= 0 {
		c.PayloadCacheBytes = 256 << 20
	}
	if c.AuthMarkers == nil {
		c.AuthMarkers = DefaultAuthMarkers
	}
	if c.FetchWait <= 0 {
		c.FetchWait = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Publisher receives everything the tracker emits, in order. Publish must not block
// for long: the hub behind it hands objects to bounded per-subscriber queues.
type Publisher interface {
	Publish(model.Object)
}

// Stats are counters safe to read from any goroutine.
type Stats struct {
	RawEvents    atomic.Int64
	Emitted      atomic.Int64
	Reads        atomic.Int64
	BudgetDenied atomic.Int64
	Dropped      atomic.Int64
	Gaps         atomic.Int64
	Migrated     atomic.Int64 // sessions a cluster slot migration moved to another master
}

// Tracker owns the session table.
type Tracker struct {
	cfg     Config
	store   backend.Store
	pub     Publisher
	rules   *diagnose.Engine
	limiter *rate.Limiter
	stats   Stats

	mu       sync.RWMutex // guards sessions for readers on other goroutines
	sessions map[string]*session
	// byRef finds a session by ref, for Session(ref) and the rules' Lookup. Two keys
	// with one store id (two frameworks) keep the latest.
	byRef map[[6]byte]*session
	cache *payloadCache

	pending       map[string]*entry
	queue         entryQueue
	pendingDels   map[*framework.Framework]map[*entry]struct{}
	pendingBirths map[*framework.Framework]map[*entry]struct{}
	recent        recentWrites
	lastRename    *entry

	inventoryDone bool
	tombstones    map[string]struct{}
	factBuf       []diagnose.SessionFact // onInventory's page of facts, reused
	presized      int                    // the capacity presize reserved, 0 none

	// resync is the re-inventory in progress after a gap, nil when none; nodes and
	// nodeIdx give each session a one-byte node index so a resync judges its node only.
	resync *resyncState
	// nodes is an array, not a slice, so that readers of the table (row) can name a
	// session's node while the tracker goroutine adds nodes: an element is written
	// once, before any session points at it.
	nodes     [maxNodes]string
	nodeCount int
	nodeIdx   map[string]uint8

	statusMu   sync.Mutex
	lastStatus model.Status

	fetchReq chan fetchJob
	fetchRes chan []fetchResult
	idleReq  chan chan bool // Idle's questions, answered on the Run goroutine
}

// New builds a tracker reading payloads from store and publishing to pub.
func New(cfg Config, store backend.Store, pub Publisher, rules *diagnose.Engine) *Tracker {
	cfg.defaults()
	t := &Tracker{
		cfg:           cfg,
		store:         store,
		pub:           pub,
		rules:         rules,
		sessions:      map[string]*session{},
		byRef:         map[[6]byte]*session{},
		pending:       map[string]*entry{},
		pendingDels:   map[*framework.Framework]map[*entry]struct{}{},
		pendingBirths: map[*framework.Framework]map[*entry]struct{}{},
		tombstones:    map[string]struct{}{},
		nodeIdx:       map[string]uint8{},
		fetchReq:      make(chan fetchJob, 8192),
		fetchRes:      make(chan []fetchResult, 64),
		idleReq:       make(chan chan bool),
	}
	t.recent.byFramework = map[*framework.Framework]*writeRing{}
	t.cache = newPayloadCache(cfg.PayloadCacheBytes, t.sessions)
	limit := rate.Limit(cfg.ReadBudget)
	if cfg.ReadBudget < 0 {
		limit = rate.Inf
	}
	t.limiter = rate.NewLimiter(limit, max(1, int(cfg.ReadBudget)))
	rules.SetLookup(t.lookupRef)
	return t
}

// lookupRef answers the rules' question "is this session in the store now?". The
// rules run on the tracker goroutine, the only writer of the table, so no lock.
func (t *Tracker) lookupRef(ref string) (diagnose.LiveSession, bool) {
	var key [6]byte
	b, err := hex.DecodeString(ref)
	if err != nil || len(b) != len(key) {
		return diagnose.LiveSession{}, false
	}
	copy(key[:], b)
	s := t.byRef[key]
	if s == nil {
		return diagnose.LiveSession{}, false
	}
	var live diagnose.LiveSession
	switch {
	case s.ttlDeadline == -1:
		live.TTL = -1
	case s.ttlDeadline > 0:
		live.TTL = max(time.Until(time.Unix(0, s.ttlDeadline)), time.Nanosecond)
	}
	return live, true
}

// Stats returns the live counters.
func (t *Tracker) Stats() *Stats { return &t.stats }

// LastStatus is the latest status the backend reported, with the last known inventory
// and notification flags filled in.
func (t *Tracker) LastStatus() model.Status {
	t.statusMu.Lock()
	defer t.statusMu.Unlock()
	return t.lastStatus
}

// ReadBudget is the configured payload reads per second (negative: unlimited).
func (t *Tracker) ReadBudget() float64 { return t.cfg.ReadBudget }

// SessionCount is the number of tracked sessions.
func (t *Tracker) SessionCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.sessions)
}

// Run consumes feed until ctx ends, then flushes what is pending and returns.
func (t *Tracker) Run(ctx context.Context, feed backend.Feed) error {
	fetchCtx, stopFetch := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.fetchLoop(fetchCtx)
		}()
	}
	defer func() {
		stopFetch()
		wg.Wait()
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastRulesTick := time.Now()
	for {
		select {
		case <-ctx.Done():
			t.flushAll()
			return nil
		case ev := <-feed.Raw:
			t.onRaw(ev)
		case items := <-feed.Inventory:
			t.onInventory(items)
		case r := <-feed.Resync:
			t.onResync(r, feed)
		case st := <-feed.Status:
			if st.Inventory != nil && st.Inventory.Done {
				// The store sent every page before saying it is done, but on another
				// channel: take the pages still queued first, or the done status would
				// drop the tombstones while the last pages wait.
				t.drainInventory(feed)
			}
			t.onStatus(st)
		case res := <-t.fetchRes:
			t.onFetched(res)
		case reply := <-t.idleReq:
			reply <- t.idle(feed)
		case now := <-tick.C:
			t.flushDue(now)
			if now.Sub(lastRulesTick) >= 100*time.Millisecond {
				lastRulesTick = now
				t.rules.Tick(now)
				t.publishFindings()
			}
		}
	}
}

// Idle reports whether the tracker has nothing left to do for what the store has
// delivered so far: the raw queue is drained, no key waits in its correlation window
// or for a payload read, and no rule has a decision pending (a deferred joint
// decision, a fixation candidate). A caller that stopped causing traffic can poll it
// to know when every event and finding that traffic causes has been emitted. It
// answers on the Run goroutine, so it blocks until Run is running (or ctx ends).
func (t *Tracker) Idle(ctx context.Context) (bool, error) {
	reply := make(chan bool, 1)
	select {
	case t.idleReq <- reply:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	select {
	case ok := <-reply:
		return ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (t *Tracker) idle(feed backend.Feed) bool {
	return len(feed.Raw) == 0 && len(feed.Inventory) == 0 && len(feed.Resync) == 0 && t.resync == nil &&
		len(t.fetchRes) == 0 && len(t.pending) == 0 && t.rules.Pending() == 0
}

// Flush emits everything pending regardless of the window; it is how a test or a
// shutdown sees the last events without waiting.
func (t *Tracker) flushAll() {
	t.flushWindow()
	t.rules.Tick(time.Now().Add(time.Hour))
	t.publishFindings()
}

// flushWindow decides every key still in its correlation window now, as if its
// window had run out.
func (t *Tracker) flushWindow() {
	for t.queue.Len() > 0 {
		e := t.queue.pop()
		if !e.done {
			t.finalize(e, time.Now(), true)
		}
	}
}

func (t *Tracker) flushDue(now time.Time) {
	for t.queue.Len() > 0 {
		e := t.queue.peek()
		if e.deadline.After(now) {
			return
		}
		t.queue.pop()
		if e.done {
			continue
		}
		t.finalize(e, now, false)
	}
}

func (t *Tracker) onStatus(st model.Status) {
	st.Dropped = t.stats.Dropped.Load()
	t.statusMu.Lock()
	prev := t.lastStatus
	merged := st
	if merged.Inventory == nil {
		merged.Inventory = prev.Inventory
	}
	if merged.Notifications == nil {
		merged.Notifications = prev.Notifications
	}
	t.lastStatus = merged
	t.statusMu.Unlock()
	if st.Inventory != nil && st.Inventory.Done && !t.inventoryDone {
		t.inventoryDone = true
		t.tombstones = nil
	}
	if st.Inventory != nil && !st.Inventory.Done && !t.inventoryDone {
		t.presize(st.Inventory)
	}
	t.pub.Publish(&st)
}

// drainInventory takes the inventory pages already queued, without waiting for more.
func (t *Tracker) drainInventory(feed backend.Feed) {
	for {
		select {
		case items := <-feed.Inventory:
			t.onInventory(items)
		default:
			return
		}
	}
}

// maxPresize bounds the table capacity reserved from an estimate: a wrong estimate
// must not reserve more than a few tens of MB that no session fills.
const maxPresize = 4 << 20

// presize grows the session maps once to the number of sessions the inventory is
// heading for, projected from the store's key count (DBSIZE) and the share of session
// keys among the keys scanned so far. Growing a million-entry map step by step
// rehashes every entry several times; that was a fifth of the tracker's inventory work.
func (t *Tracker) presize(inv *model.Inventory) {
	if inv.Estimate <= 0 || inv.Scanned <= 0 || inv.Sessions <= 0 {
		return
	}
	projected := int(min(float64(inv.Estimate)*float64(inv.Sessions)/float64(inv.Scanned), maxPresize))
	if projected < 4096 || projected <= 2*len(t.sessions) || projected <= t.presized {
		return
	}
	t.presized = projected
	t.mu.Lock()
	defer t.mu.Unlock()
	sessions := make(map[string]*session, projected)
	for k, s := range t.sessions {
		sessions[k] = s
	}
	byRef := make(map[[6]byte]*session, projected)
	for r, s := range t.byRef {
		byRef[r] = s
	}
	t.sessions, t.byRef = sessions, byRef
	t.cache.sessions = sessions
}

func (t *Tracker) onInventory(items []backend.InventoryItem) {
	t.mu.Lock()
	// facts is reused from page to page: an inventory sends a million of them.
	facts := t.factBuf[:0]
	for _, it := range items {
		if _, known := t.sessions[it.Key]; known {
			continue
		}
		if _, ended := t.tombstones[it.Key]; ended {
			continue // the store ended it after SCAN saw it
		}
		m, ok := t.cfg.Matcher.Match(it.Key)
		if !ok {
			continue
		}
		s := &session{key: it.Key, fw: m.Framework, ref: refOf(m.StoreID), flags: flagFromInventory,
			size: int32(min(it.Size, 1<<31-1)), node: t.nodeIndex(it.Node)}
		s.ttlDeadline = deadlineFor(it.Read, it.TTL)
		t.addSession(s)
		facts = append(facts, diagnose.SessionFact{Session: t.info(s), TTL: it.TTL, Time: it.Read})
	}
	t.mu.Unlock()
	t.rules.OnInventory(facts...)
	clear(facts) // the strings belong to the sessions, not to the buffer
	t.factBuf = facts
	t.publishFindings()
}

func deadlineFor(at time.Time, ttl time.Duration) int64 {
	if ttl < 0 {
		return -1
	}
	return at.Add(ttl).UnixNano()
}

func (t *Tracker) onRaw(ev backend.RawEvent) {
	if ev.Op == backend.OpGap {
		t.emitGap(ev)
		return
	}
	t.stats.RawEvents.Add(1)
	m, ok := t.cfg.Matcher.Match(ev.Key)
	if !ok {
		return
	}
	if t.resync != nil {
		t.resync.live[ev.Key] = struct{}{}
	}
	e := t.pending[ev.Key]
	migration := e != nil && e.migratesWith(ev.Op, ev.Node)
	if e != nil && !migration && e.conflictsWith(ev.Op) {
		t.finalize(e, ev.Time, true)
		e = nil
	}
	if e == nil {
		e = &entry{key: ev.Key, m: m, first: ev.Time, deadline: ev.Time.Add(t.cfg.Window), node: ev.Node,
			evidence: ev.Evidence}
		t.mu.RLock()
		_, known := t.sessions[ev.Key]
		t.mu.RUnlock()
		e.knownAtStart = known
		t.pending[ev.Key] = e
		t.queue.push(e)
	}
	e.ops |= 1 << ev.Op
	fw := m.Framework
	switch ev.Op {
	case backend.OpSet, backend.OpHSet, backend.OpHDel:
		e.writes++
		e.writeGen++
		if !e.knownAtStart {
			t.index(t.pendingBirths, fw, e)
		}
		t.requestRead(e, false)
	case backend.OpNew:
		e.restoreNode = ev.Node // RESTORE publishes new first; for other writes it is unused
		if migration {
			break
		}
		t.index(t.pendingBirths, fw, e)
	case backend.OpExpire, backend.OpPersist:
		if !e.has(backend.OpSet) && !e.has(backend.OpHSet) {
			t.requestRead(e, true)
		}
	case backend.OpDel:
		e.delNode = ev.Node
		if migration {
			// Moved, not ended: neither the deletion nor the target's "new" may pair
			// with another key as a regeneration.
			if set := t.pendingBirths[fw]; set != nil {
				delete(set, e)
			}
			break
		}
		t.index(t.pendingDels, fw, e)
	case backend.OpRestore:
		e.restoreNode = ev.Node
		if migration {
			// The deletion seen first was the source's half: it must not pair with a
			// new session as a regeneration.
			if set := t.pendingDels[fw]; set != nil {
				delete(set, e)
			}
			break
		}
		// A RESTORE on its own writes the key: a birth when unknown, else an update.
		e.writes++
		e.writeGen++
		if !e.knownAtStart {
			t.index(t.pendingBirths, fw, e)
		}
		t.requestRead(e, false)
	case backend.OpRenameFrom:
		t.lastRename = e
	case backend.OpRenameTo:
		// Redis publishes rename_from and rename_to back to back for one RENAME.
		if src := t.lastRename; src != nil && !src.done && ev.Time.Sub(src.first) < t.cfg.Window {
			e.renameFrom = src.key
			src.consumed = true
		}
		t.lastRename = nil
		e.writeGen++
		t.index(t.pendingBirths, fw, e)
		t.requestRead(e, false)
	}
}

func (t *Tracker) index(idx map[*framework.Framework]map[*entry]struct{}, fw *framework.Framework, e *entry) {
	set := idx[fw]
	if set == nil {
		set = map[*entry]struct{}{}
		idx[fw] = set
	}
	set[e] = struct{}{}
}

func (t *Tracker) unindex(e *entry) {
	fw := e.m.Framework
	if set := t.pendingDels[fw]; set != nil {
		delete(set, e)
	}
	if set := t.pendingBirths[fw]; set != nil {
		delete(set, e)
	}
}

// requestRead asks for the entry's payload (or only its TTL) within the read budget.
// One read is in flight per entry; a payload needed while a TTL read is out is asked
// for when that read returns.
func (t *Tracker) requestRead(e *entry, ttlOnly bool) {
	if e.reading {
		// The read in flight may have seen the store before this write: read again
		// when it returns, so the event describes the last write of the window.
		if !ttlOnly {
			e.wantPayload = true
		}
		return
	}
	if !ttlOnly && e.result != nil && !e.result.res.TTLOnly && e.readGen == e.writeGen {
		return // the payload read already saw the last write
	}
	if !t.limiter.Allow() {
		t.stats.BudgetDenied.Add(1)
		if !ttlOnly {
			e.unread = model.UnreadBudget
		}
		return
	}
	job := fetchJob{entry: e, req: backend.ReadRequest{Key: e.key, Type: e.m.Framework.Type, MaxBytes: t.cfg.MaxPayloadBytes, TTLOnly: ttlOnly}, fw: e.m.Framework}
	select {
	case t.fetchReq <- job:
		e.reading, e.readTTLOnly, e.readGen = true, ttlOnly, e.writeGen
		t.stats.Reads.Add(1)
	default:
		// The read pipeline is saturated: treat it as budget spent rather than wait.
		t.stats.BudgetDenied.Add(1)
		if !ttlOnly {
			e.unread = model.UnreadBudget
		}
	}
}

func (t *Tracker) onFetched(results []fetchResult) {
	for i := range results {
		r := &results[i]
		e := r.entry
		e.reading = false
		if e.done {
			// The entry was emitted without waiting (a conflicting op forced it); keep
			// what was read so the next event on the key has a baseline.
			t.applyLate(r)
			continue
		}
		if r.res.TTLOnly && e.result != nil && !e.result.res.TTLOnly {
			e.result.res.TTL = r.res.TTL
		} else {
			e.result = r
		}
		e.readTTLOnly = r.res.TTLOnly
		if e.wantPayload {
			e.wantPayload = false
			t.requestRead(e, false)
		}
	}
}

func (t *Tracker) applyLate(r *fetchResult) {
	if r.cached == nil || !r.res.Exists {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sessions[r.entry.key]; s != nil {
		t.cache.put(s, r.cached)
	}
}

// finalize emits the entry's event. Unless forced, an entry whose read is still out
// waits (up to FetchWait), and a delete waits for births that may turn out to be its
// regeneration.
func (t *Tracker) finalize(e *entry, now time.Time, forced bool) {
	if !forced {
		if e.reading && now.Before(e.deadline.Add(t.cfg.FetchWait)) && e.waits < 1000 {
			e.waits++
			e.deadline = now.Add(5 * time.Millisecond)
			t.queue.push(e)
			return
		}
		if e.has(backend.OpDel) && !e.migrated() && !e.consumed && e.postponed < 5 {
			if d, ok := t.birthNear(e); ok {
				e.postponed++
				e.deadline = d.Add(time.Millisecond)
				t.queue.push(e)
				return
			}
		}
	}
	if e.reading && e.unread == "" {
		e.unread = model.UnreadTimeout
	}
	e.done = true
	if t.pending[e.key] == e {
		delete(t.pending, e.key)
	}
	t.unindex(e)
	if e.consumed {
		return // absorbed into a regeneration or a rename
	}
	var ev *model.Event
	t.mu.Lock()
	switch {
	case e.migrated():
		// A slot migration in a Redis Cluster: the session is the same, on another
		// master. Nothing happened to it that the app did; only its node changes.
		if s := t.sessions[e.key]; s != nil {
			s.node = t.nodeIndex(e.restoreNode)
		}
		t.stats.Migrated.Add(1)
		e.node = e.restoreNode
		// The app may have written the session on its new master within the window.
		if e.ops&^migrationOps != 0 {
			ev = t.writeEvent(e)
		}
	case e.has(backend.OpExpired):
		ev = t.endEvent(e, model.KindExpired)
	case e.has(backend.OpEvicted):
		ev = t.endEvent(e, model.KindEvicted)
	case e.has(backend.OpDel):
		ev = t.endEvent(e, model.KindDestroyed)
		ev.Cause = model.CauseApp
	case e.has(backend.OpRenameFrom):
		// Renamed to a key that is not a session: for sessionscope the session ended.
		ev = t.endEvent(e, model.KindDestroyed)
		ev.Cause = model.CauseApp
		ev.Reason = "renamed to a key outside the session prefixes"
	default:
		ev = t.writeEvent(e)
	}
	t.mu.Unlock()
	if ev != nil {
		t.emit(ev)
	}
}

// birthNear returns the latest deadline of a pending birth of the same framework
// within the window of the delete, if any.
func (t *Tracker) birthNear(del *entry) (time.Time, bool) {
	var latest time.Time
	found := false
	for b := range t.pendingBirths[del.m.Framework] {
		if b.done || absDur(b.first.Sub(del.first)) > t.cfg.Window {
			continue
		}
		found = true
		if b.deadline.After(latest) {
			latest = b.deadline
		}
	}
	return latest, found
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// endEvent builds expired, evicted or destroyed, and removes the session.
func (t *Tracker) endEvent(e *entry, kind model.Kind) *model.Event {
	s := t.sessions[e.key]
	if s == nil {
		s = &session{key: e.key, fw: e.m.Framework, ref: refOf(e.m.StoreID)}
	}
	ev := t.newEvent(e, kind, s)
	if s.born != 0 {
		age := e.first.Sub(time.Unix(0, s.born)).Seconds()
		ev.AgeS = &age
	}
	if s.lastActivity != 0 {
		idle := e.first.Sub(time.Unix(0, s.lastActivity)).Seconds()
		ev.IdleS = &idle
	}
	if s.size > 0 {
		size := int(s.size)
		ev.Size = &size
	}
	if s.payload != nil && s.payload.decoded != nil {
		ev.Format = string(s.payload.decoded.Format)
	}
	t.removeSession(s)
	return ev
}

func (t *Tracker) addSession(s *session) {
	t.sessions[s.key] = s
	t.byRef[s.ref] = s
}

func (t *Tracker) removeSession(s *session) {
	t.cache.drop(s)
	delete(t.sessions, s.key)
	if t.byRef[s.ref] == s {
		delete(t.byRef, s.ref)
	}
	if !t.inventoryDone && t.tombstones != nil {
		t.tombstones[s.key] = struct{}{}
	}
}

// writeEvent classifies a write: a birth (created or regenerated), an update or a touch.
func (t *Tracker) writeEvent(e *entry) *model.Event {
	s := t.sessions[e.key]
	var newC *cachedPayload
	if e.result != nil && e.result.res.Exists && e.result.cached != nil {
		newC = e.result.cached
	}
	if e.result != nil && !e.result.res.Exists && e.result.res.Err == nil && e.unread == "" {
		e.unread = model.UnreadGone
	}
	if e.result != nil && e.result.res.Err != nil && e.unread == "" {
		e.unread = model.UnreadError
	}
	if s == nil || e.renameFrom != "" || (e.has(backend.OpNew) && !e.knownAtStart) {
		return t.birthEvent(e, s, newC)
	}
	wrote := e.has(backend.OpSet) || e.has(backend.OpHSet) || e.has(backend.OpHDel)
	var ev *model.Event
	switch {
	case !wrote:
		ev = t.newEvent(e, model.KindTouched, s)
	case newC != nil && s.payload != nil:
		changed, added := changedFields(s.payload, newC)
		if len(changed) == 0 {
			ev = t.newEvent(e, model.KindTouched, s)
		} else {
			ev = t.newEvent(e, model.KindUpdated, s)
			ev.Changed = namedOnly(changed)
			// Only a marker that appears counts; a marker that was already there
			// belongs to a login sessionscope has seen (or judged) before.
			ev.AuthAdded = newC.auth && s.flags&flagAuthenticated == 0 && len(added) > 0
		}
	default:
		// No baseline (the cache dropped it, or the session predates sessionscope) or
		// no read: it was written, and that is all that can be said.
		ev = t.newEvent(e, model.KindUpdated, s)
		if newC == nil {
			ev.PayloadUnread = e.unread
		}
		if newC != nil && s.flags&flagAuthenticated == 0 && newC.auth {
			ev.AuthAdded = true
		}
	}
	t.applyWrite(e, s, newC, wrote)
	t.fillFromSession(ev, s, newC)
	return ev
}

func (t *Tracker) applyWrite(e *entry, s *session, newC *cachedPayload, wrote bool) {
	at := e.first.UnixNano()
	s.lastActivity = at
	s.node = t.nodeIndex(e.node) // a key can move between cluster nodes (resharding)
	if wrote {
		s.lastWrite = at
	}
	if e.result != nil && e.result.res.Exists {
		s.ttlDeadline = deadlineFor(e.first, e.result.res.TTL)
		if !e.result.res.TTLOnly {
			s.size = int32(min(e.result.res.Size, 1<<31-1))
		}
	} else if e.has(backend.OpSet) && !e.has(backend.OpExpire) {
		s.ttlDeadline = -1 // a plain SET clears the TTL
	} else if e.has(backend.OpPersist) {
		s.ttlDeadline = -1
	}
	if newC != nil {
		if newC.auth {
			s.flags |= flagAuthenticated
		} else {
			s.flags &^= flagAuthenticated
		}
		t.cache.put(s, newC)
		t.recent.add(s.fw, e.key, e.first)
	}
}

// birthEvent emits created, or regenerated when a predecessor is found.
func (t *Tracker) birthEvent(e *entry, existing *session, newC *cachedPayload) *model.Event {
	fw := e.m.Framework
	if existing != nil {
		// A "new" event for a key the table still held: the end was missed. Replace it.
		t.removeSession(existing)
	}
	s := &session{key: e.key, fw: fw, ref: refOf(e.m.StoreID), born: e.first.UnixNano()}
	t.addSession(s)
	from, evidence, oldKept := t.findPredecessor(e, newC)
	var ev *model.Event
	if from != nil {
		ev = t.newEvent(e, model.KindRegenerated, s)
		info := t.info(from)
		ev.From = &info
		ev.Evidence = evidence
		ev.OldKept = oldKept
		s.flags |= flagBornRegenerated
		s.fromRef = from.ref
		if oldKept {
			from.flags |= flagRegeneratedTo
			from.toRef = s.ref
		} else {
			t.removeSession(from)
		}
	} else {
		ev = t.newEvent(e, model.KindCreated, s)
	}
	if newC == nil {
		ev.PayloadUnread = e.unread
	}
	t.applyWrite(e, s, newC, true)
	t.fillFromSession(ev, s, newC)
	return ev
}

// findPredecessor links a birth to the session it replaces: a rename, a deleted
// session whose payload the new one carries, a surviving session written with the same
// payload (old_kept), or — only when it is the one possible pairing — timing.
func (t *Tracker) findPredecessor(e *entry, newC *cachedPayload) (*session, string, bool) {
	fw := e.m.Framework
	if e.renameFrom != "" {
		if old := t.sessions[e.renameFrom]; old != nil {
			return old, model.EvidenceRename, false
		}
		m, _ := t.cfg.Matcher.Match(e.renameFrom)
		if m.Framework != nil {
			return &session{key: e.renameFrom, fw: m.Framework, ref: refOf(m.StoreID)}, model.EvidenceRename, false
		}
	}
	var dels []*entry
	for d := range t.pendingDels[fw] {
		if !d.done && !d.consumed && absDur(d.first.Sub(e.first)) <= t.cfg.Window {
			dels = append(dels, d)
		}
	}
	if newC.comparable() {
		var best *entry
		bestScore, tie := 0, false
		for _, d := range dels {
			old := t.sessions[d.key]
			if old == nil || !carries(newC, old.payload) {
				continue
			}
			score := len(old.payload.fields)
			switch {
			case score > bestScore:
				best, bestScore, tie = d, score, false
			case score == bestScore:
				tie = true
			}
		}
		if best != nil && !tie {
			t.consume(best)
			return t.sessions[best.key], model.EvidencePayload, false
		}
		// A surviving session written within the window whose payload the new one
		// carries: the old key was kept. The best (most fields) unique match wins.
		var kept *session
		keptScore, keptTie := 0, false
		seen := map[string]bool{}
		t.recent.each(fw, func(w recentWrite) {
			if w.key == e.key || seen[w.key] || absDur(w.at.Sub(e.first)) > t.cfg.Window {
				return
			}
			seen[w.key] = true
			old := t.sessions[w.key]
			// The old key is rewritten as part of the regeneration; a session whose
			// recent write was its own birth is a neighbour, not a predecessor (two
			// visitors getting the same fresh payload at once must not be linked).
			if old == nil || !carries(newC, old.payload) || old.born != 0 && !time.Unix(0, old.born).Before(w.at) {
				return
			}
			score := len(old.payload.fields)
			switch {
			case score > keptScore:
				kept, keptScore, keptTie = old, score, false
			case score == keptScore:
				keptTie = true
			}
		})
		n := 0
		if kept != nil && !keptTie {
			n = 1
		}
		if n == 1 {
			return kept, model.EvidencePayload, true
		}
	}
	if len(dels) == 1 && t.onlyBirth(e) {
		d := dels[0]
		// The proxy, when it saw the requests, knows better than timing: a logout's
		// deletion and the next visitor's new session are two requests, not one
		// regeneration.
		evidence := model.EvidenceTiming
		if same, known := t.rules.SameExchange(hexRef(refOf(d.m.StoreID)), d.first, hexRef(refOf(e.m.StoreID)), e.first); known {
			if !same {
				return nil, "", false
			}
			evidence = model.EvidenceHTTP
		}
		old := t.sessions[d.key]
		if old == nil {
			old = &session{key: d.key, fw: fw, ref: refOf(d.m.StoreID)}
		}
		t.consume(d)
		return old, evidence, false
	}
	return nil, "", false
}

// onlyBirth reports whether e is the only unexplained birth of its framework within
// the window, the condition for trusting timing alone.
func (t *Tracker) onlyBirth(e *entry) bool {
	for b := range t.pendingBirths[e.m.Framework] {
		if b != e && !b.done && absDur(b.first.Sub(e.first)) <= t.cfg.Window {
			return false
		}
	}
	return true
}

func (t *Tracker) consume(d *entry) {
	d.consumed = true
	d.done = true
	if t.pending[d.key] == d {
		delete(t.pending, d.key)
	}
	t.unindex(d)
}

func (t *Tracker) newEvent(e *entry, kind model.Kind, s *session) *model.Event {
	info := t.info(s)
	return &model.Event{Type: model.TypeEvent, Time: e.first, Kind: kind, Session: &info,
		Backend: t.cfg.Backend, Node: e.node, Evidence: e.evidence}
}

func (t *Tracker) fillFromSession(ev *model.Event, s *session, c *cachedPayload) {
	switch {
	case s.ttlDeadline == -1:
		v := int64(-1)
		ev.TTL = &v
	case s.ttlDeadline > 0 && (ev.Kind != model.KindUpdated || ev.PayloadUnread == ""):
		v := int64((time.Duration(s.ttlDeadline-ev.Time.UnixNano()) + time.Second - 1) / time.Second)
		ev.TTL = &v
	}
	if s.size > 0 {
		size := int(s.size)
		ev.Size = &size
	}
	if c != nil && c.decoded != nil {
		ev.Format = string(c.decoded.Format)
	}
	ev.Authenticated = s.flags&flagAuthenticated != 0
}

func (t *Tracker) info(s *session) model.SessionInfo {
	id := s.storeID()
	return model.SessionInfo{Ref: s.refString(), ID: model.ShowID(id, t.cfg.RevealIDs),
		Framework: s.fw.Name, KeyPrefix: s.fw.Prefix, StoreID: id}
}

func (t *Tracker) emitGap(raw backend.RawEvent) {
	g := raw.Gap
	if g == nil {
		g = &backend.GapInfo{From: raw.Time, To: raw.Time}
	}
	t.stats.Dropped.Add(g.Dropped)
	t.stats.Gaps.Add(1)
	from, to := g.From, g.To
	ev := &model.Event{Type: model.TypeEvent, Time: raw.Time, Kind: model.KindGap, Backend: t.cfg.Backend,
		Node: raw.Node, FromTime: &from, ToTime: &to, Dropped: g.Dropped, Reason: g.Reason}
	t.emit(ev)
}

func (t *Tracker) emit(ev *model.Event) {
	t.stats.Emitted.Add(1)
	t.rules.Annotate(ev)
	t.pub.Publish(ev)
	t.rules.OnEvent(ev)
	t.publishFindings()
}

func (t *Tracker) publishFindings() {
	for _, f := range t.rules.Drain() {
		t.pub.Publish(f)
		t.rules.Published(f.ID, f.Seq)
	}
}

// decodePayload turns a read into the cache entry; undecodable bytes become opaque.
func decodePayload(res backend.ReadResult, fw *framework.Framework, markers []string) *cachedPayload {
	var (
		p   *codec.Payload
		err error
	)
	if fw.Type == framework.KeyHash {
		p, err = codec.DecodeSpringHash(res.Hash, codec.Limits{})
	} else {
		p, err = codec.Decode(fw.Format, res.Data, codec.Limits{})
		if err != nil && fw.Format != codec.FormatAuto {
			p, err = codec.Decode(codec.FormatAuto, res.Data, codec.Limits{})
		}
	}
	if err != nil || p == nil {
		p = opaquePayload(res.Data, res.Truncated)
	}
	c := newCached(res.Key, p, fw, markers)
	return c
}

// opaquePayload wraps bytes no decoder accepted, so they can still be shown (type, size,
// preview) and compared by digest.
func opaquePayload(data []byte, truncated bool) *codec.Payload {
	return &codec.Payload{Format: codec.FormatOpaque, Opaque: codec.OpaqueOf(data, codec.FormatOpaque, truncated),
		Digest: xxhash.Sum64(data), Size: len(data)}
}

// namedOnly drops the unnamed pseudo-field of opaque payloads: a pickle that changed is
// an update, but it has no field names to list.
func namedOnly(fields []string) []string {
	out := fields[:0]
	for _, f := range fields {
		if f != "" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return out
}
