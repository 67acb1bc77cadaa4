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
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Config tunes the tracker. Zero values take the documented defaults.
type Config struct {
	Matcher           *framework.Matcher
	Backend           string        // backend id in events; default "redis"
	Window            time.Duration // correlation window; default model.DefaultWindow
	ReadBudget        float64       // payload reads per second; default 1000
	MaxPayloadBytes   int           // size cap per read; default backend.DefaultMaxPayloadBytes
	PayloadCacheBytes int64         // decoded payloads kept for live sessions; default 256 MiB
	AuthMarkers       []string      // default DefaultAuthMarkers
	RevealIDs         bool          // show full ids instead of masked ones
	// Redact names the payload fields whose values search never matches on (the
	// dashboard hides them, and a search that matched them would reveal them one guess
	// at a time); default the built-in list. RevealValues lifts it, as it does on screen.
	Redact       model.Redaction
	RevealValues bool
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
		c.Window = model.DefaultWindow
	}
	if c.ReadBudget == 0 {
		c.ReadBudget = 1000
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = backend.DefaultMaxPayloadBytes
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
	// HandedOver counts sessions a slot migration carried to a master this process
	// does not follow (--nodes): dropped from the table, not ended; also in Migrated.
	HandedOver atomic.Int64
	// Arrived counts sessions a slot migration brought by their restore alone (from a
	// master this process does not follow, or one whose del came a window late):
	// added to the table, not born. Not in Migrated: the del's side counts the move,
	// so that the sums over the processes count each move once.
	Arrived atomic.Int64
	// NotSessions counts writes to keys only an empty --prefix matched whose payload
	// was not that framework's (or could not be read): not taken for sessions.
	NotSessions atomic.Int64
}

// Tracker owns the session table.
type Tracker struct {
	cfg     Config
	store   backend.Store
	pub     Publisher
	rules   Rules
	limiter *rate.Limiter
	stats   Stats

	mu sync.RWMutex // guards sessions for readers on other goroutines
	// sessions finds a session by key, and by ref for Session(ref) and the rules'
	// Lookup. Two keys with one store id (two frameworks) keep the latest under a ref.
	sessions *sessionTable
	fws      *frameworkIndex // the frameworks sessions name by index (session.fw)
	cache    *payloadCache

	pending       map[string]*entry
	queue         entryQueue
	pendingDels   map[*framework.Framework]map[*entry]struct{}
	pendingBirths map[*framework.Framework]map[*entry]struct{}
	recent        recentWrites
	lastRename    *entry
	// commands numbers each node's Redis commands (backend.RawEvent.Continues), so
	// that one command's notifications form one entry.
	commands map[string]uint64
	// lastEntry is the entry the latest notification opened or joined, where the
	// rest of its command goes (onRaw).
	lastEntry *entry
	// tableGen counts the inventory's additions to the table, which may replace a
	// session without removing it, so that an entry can tell whether the session it
	// found when it opened is still the key's (sessionOf). It starts at 1: an entry's
	// 0 means "not looked up".
	tableGen uint64
	// cmdNode and cmdNum are the latest notification's node and its command number,
	// kept out of commands while that node's notifications keep coming (onRaw).
	cmdNode string
	cmdNum  uint64
	// eventNode and eventNodeIdx are the node of the latest event applied to a session
	// and its index (nodeIndex), which never changes once given.
	eventNode    string
	eventNodeIdx uint8
	order        entryFIFO // entries in the order they opened, for emission order
	// undecided are births left unlinked in the last windows (pairing.go).
	undecided []undecidedBirth
	lastRawAt time.Time   // the time of the latest notification taken (streamNow)
	ready     readyEvents // decided events held until no older entry is undecided

	// partial: the store follows only some masters of a cluster
	// (backend.PartialFollower), so a slot migration may show here by one half only.
	partial bool

	inventoryDone bool
	tombstones    map[string]struct{}
	// verifying counts inventory keys whose payload is being read before they are
	// taken for sessions (rows that guess from the key's shape alone, see verify).
	verifying int
	factBuf   []diagnose.SessionFact // onInventory's page of facts, reused
	listed    listedIndex            // a two-phase inventory's sessions by node and index, until done
	addedLive map[string]struct{}    // keys added to the table other than by listing, until the inventory is done
	presized  int                    // the capacity presize reserved, 0 none

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
	adoptReq chan adoption  // on-demand reads to take as baselines (ReadPayload)

	// ended keeps the last known facts of sessions that left the table (ended.go).
	ended endedTable
}

// New builds a tracker reading payloads from store and publishing to pub.
func New(cfg Config, store backend.Store, pub Publisher, rules Rules) *Tracker {
	cfg.defaults()
	t := &Tracker{
		cfg:           cfg,
		store:         store,
		pub:           pub,
		rules:         rules,
		sessions:      newSessionTable(),
		fws:           newFrameworkIndex(cfg.Matcher),
		pending:       map[string]*entry{},
		pendingDels:   map[*framework.Framework]map[*entry]struct{}{},
		pendingBirths: map[*framework.Framework]map[*entry]struct{}{},
		tombstones:    map[string]struct{}{},
		commands:      map[string]uint64{},
		nodeIdx:       map[string]uint8{},
		fetchReq:      make(chan fetchJob, 8192),
		fetchRes:      make(chan []fetchResult, 64),
		idleReq:       make(chan chan bool),
		adoptReq:      make(chan adoption),
		tableGen:      1,
	}
	t.recent.byFramework = map[*framework.Framework]*writeRing{}
	if pf, ok := store.(backend.PartialFollower); ok {
		t.partial = pf.FollowsPart()
	}
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
	s := t.sessions.getRef(key)
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
	return t.sessions.len()
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
			t.takeRaw(ev)
			// Under load the raw queue holds a backlog: take a run of it with
			// non-blocking receives, which cost far less than this select of every
			// channel; the run is bounded so that ticks, reads and statuses are not
			// kept waiting.
			for range rawRun {
				select {
				case ev := <-feed.Raw:
					t.takeRaw(ev)
					continue
				default:
				}
				break
			}
		case items := <-feed.Inventory:
			t.onInventory(items)
		case r := <-feed.Resync:
			t.onResync(r, feed)
		case st := <-feed.Status:
			if st.Inventory != nil && (st.Inventory.Done || st.Inventory.ListedAt != nil) {
				// The store sent every page before saying it is done (or, for phase
				// one, listed), but on another channel: take the pages still queued
				// first, or the done status would drop the tombstones while the last
				// pages wait, and a listed status would precede the sessions it counts.
				t.drainInventory(feed)
			}
			t.onStatus(st)
		case res := <-t.fetchRes:
			t.onFetched(res)
		case reply := <-t.idleReq:
			reply <- t.idle(feed)
		case a := <-t.adoptReq:
			a.reply <- t.onAdopt(a, feed)
		case now := <-tick.C:
			t.flushDue(t.streamNow(now, feed))
			if now.Sub(lastRulesTick) >= 100*time.Millisecond {
				lastRulesTick = now
				t.pruneUndecided(now)
				t.rules.Tick(now)
				t.publishFindings()
			}
		}
	}
}

// rawRun bounds the notifications Run takes in one go before it looks at its other
// channels again: at 300,000 a second, about a millisecond's worth.
const rawRun = 256

// takeRaw applies one notification.
func (t *Tracker) takeRaw(ev backend.RawEvent) {
	if ev.Time.After(t.lastRawAt) {
		t.lastRawAt = ev.Time
	}
	t.onRaw(ev)
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

// streamNow is the time up to which the store's stream has been taken in: now when
// nothing waits in the raw queue, else the time of the last notification taken. An
// entry is decided when its window has passed in that time, so that under a backlog
// the rest of its command and the deletions it may pair with, still queued, are seen
// first.
func (t *Tracker) streamNow(now time.Time, feed backend.Feed) time.Time {
	if feed.RawLen() == 0 || t.lastRawAt.IsZero() || t.lastRawAt.After(now) {
		return now
	}
	return t.lastRawAt
}

func (t *Tracker) idle(feed backend.Feed) bool {
	return feed.RawLen() == 0 && len(feed.Inventory) == 0 && len(feed.Resync) == 0 && t.resync == nil &&
		len(t.fetchRes) == 0 && len(t.pending) == 0 && t.ready.Len() == 0 && t.rules.Pending() == 0 && t.verifying == 0
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
	defer t.release()
	for t.queue.Len() > 0 {
		e := t.queue.pop()
		if !e.done {
			t.finalize(e, time.Now(), true)
		}
	}
}

func (t *Tracker) flushDue(now time.Time) {
	defer t.release()
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
		t.listed, t.addedLive = nil, nil
	}
	if st.Inventory != nil && !st.Inventory.Done && !t.inventoryDone {
		t.presize(st.Inventory)
	}
	t.pub.Publish(&st)
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

func (t *Tracker) publishFindings() {
	for _, f := range t.rules.Drain() {
		t.pub.Publish(f)
		t.rules.Published(f.ID, f.Seq)
	}
}
