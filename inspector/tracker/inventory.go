// The session table: the initial inventory fills it, ends remove from it.

package tracker

import (
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

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

// presize grows the session table once to the number of sessions the inventory is
// heading for, projected from the store's key count (DBSIZE) and the share of session
// keys among the keys scanned so far. Growing a million-entry table step by step
// rehashes every entry several times; that was a fifth of the tracker's inventory work.
func (t *Tracker) presize(inv *model.Inventory) {
	if inv.Estimate <= 0 || inv.Scanned <= 0 || inv.Sessions <= 0 {
		return
	}
	projected := int(min(float64(inv.Estimate)*float64(inv.Sessions)/float64(inv.Scanned), maxPresize))
	if projected < 4096 || projected <= 2*t.sessions.len() || projected <= t.presized {
		return
	}
	t.presized = projected
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sessions.reserve(projected)
}

func (t *Tracker) onInventory(items []backend.InventoryItem) {
	t.mu.Lock()
	// facts is reused from page to page: an inventory sends a million of them.
	facts := t.factBuf[:0]
	for _, it := range items {
		if it.Kind == backend.ItemFilled {
			facts = t.fill(it, facts)
			continue
		}
		s := t.inventorySession(it)
		if it.Kind == backend.ItemListed {
			// Phase one: listed only. The rules hear of it when phase two reads its
			// TTL: a TTL not read yet must not look like a key without one.
			t.listed.put(it.Node, it.Index, s)
			if s != nil {
				s.flags |= flagMetaUnread
				t.addSession(s)
			}
			continue
		}
		if s == nil {
			continue
		}
		s.size = int32(min(it.Size, 1<<31-1))
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

// inventorySession is the session an inventory item adds to the table, nil when it
// adds none: the key is known already (a live write or an earlier page), ended since
// SCAN saw it, is no session, or has its payload read first (verify).
func (t *Tracker) inventorySession(it backend.InventoryItem) *session {
	if it.Kind == backend.ItemListed {
		// Phase one adds a million keys to a table that holds almost none of them, and
		// a probe into a map of a million entries is a cache miss: ask the small set
		// of keys born live since the inventory started instead. A key SCAN returns
		// twice, or one a re-inventory added meanwhile, gets a new session object in
		// place of the first, and phase two fills it.
		if _, known := t.addedLive[it.Key]; known {
			return nil
		}
	} else if t.sessions.get(it.Key) != nil {
		return nil
	}
	if _, ended := t.tombstones[it.Key]; ended {
		return nil // the store ended it after SCAN saw it
	}
	m, ok := t.cfg.Matcher.Match(it.Key)
	if !ok {
		return nil
	}
	if m.Framework.UUIDOnly {
		t.verify(it, m)
		return nil
	}
	return &session{key: it.Key, fw: t.fwIndex(m.Framework), ref: refOf(m.StoreID), flags: flagFromInventory, node: t.nodeIndex(it.Node)}
}

// listedIndex finds the sessions a two-phase inventory listed by node and
// InventoryItem.Index, so that phase two fills a million sessions without looking
// each key up in the table again (random probes into a map of a million entries were
// half of the tracker's phase-two time). A nil entry is a key that listing added no
// session for.
type listedIndex map[string][]*session

func (l *listedIndex) put(node string, i int32, s *session) {
	if *l == nil {
		*l = listedIndex{}
	}
	byIndex := (*l)[node]
	for int(i) >= len(byIndex) {
		byIndex = append(byIndex, nil)
	}
	byIndex[i] = s
	(*l)[node] = byIndex
}

func (l listedIndex) get(node string, i int32) *session {
	byIndex := l[node]
	if i < 0 || int(i) >= len(byIndex) {
		return nil
	}
	return byIndex[i]
}

// fill takes phase two's TTL and size of a listed session and hands the rules the
// session's inventory fact, now that its TTL is known. A key no longer in the table has
// ended since it was listed; a session written, touched or read since then already
// has fresher values, and the rules heard of that event.
func (t *Tracker) fill(it backend.InventoryItem, facts []diagnose.SessionFact) []diagnose.SessionFact {
	s := t.listed.get(it.Node, it.Index)
	if s != nil && s.key != it.Key {
		s = t.sessions.get(it.Key) // not numbered as listed: find it by key
	}
	// A session removed from the table since has its flag cleared (removeSession).
	if s == nil || s.flags&flagMetaUnread == 0 {
		return facts
	}
	unread := s.metaUnread()
	s.flags &^= flagMetaUnread
	if !unread {
		return facts
	}
	s.size = int32(min(it.Size, 1<<31-1))
	s.ttlDeadline = deadlineFor(it.Read, it.TTL)
	return append(facts, diagnose.SessionFact{Session: t.info(s), TTL: it.TTL, Time: it.Read})
}

// verify reads the payload of an inventory key that only its shape made a candidate
// (an empty --prefix: any UUID key), so that it is taken for a session only when the
// payload is that framework's (Framework.PayloadFits). Reads are budgeted like any
// other; a key whose read is refused stays out of the table until it is written.
func (t *Tracker) verify(it backend.InventoryItem, m framework.Match) {
	if !t.limiter.Allow() {
		t.stats.BudgetDenied.Add(1)
		return
	}
	item := it
	job := fetchJob{req: backend.ReadRequest{Key: it.Key, Type: m.Framework.Type, MaxBytes: t.cfg.MaxPayloadBytes}, m: m, verify: &item}
	select {
	case t.fetchReq <- job:
		t.verifying++
		t.stats.Reads.Add(1)
	default:
		t.stats.BudgetDenied.Add(1)
	}
}

// onVerified adds a verified inventory key to the table, with the payload it read as
// its baseline; a key that is no session, or is gone, or became known meanwhile (a
// live write decides it) is left alone.
func (t *Tracker) onVerified(r *fetchResult) {
	t.verifying--
	it := r.verify
	if r.notSession || r.cached == nil || !r.res.Exists {
		if r.notSession {
			t.stats.NotSessions.Add(1)
		}
		return
	}
	if _, live := t.pending[it.Key]; live {
		return
	}
	m, _ := t.cfg.Matcher.Match(it.Key)
	t.mu.Lock()
	if t.sessions.get(it.Key) != nil {
		t.mu.Unlock()
		return
	}
	s := &session{key: it.Key, fw: t.fwIndex(r.cached.fw), ref: refOf(m.StoreID), flags: flagFromInventory | flagPayloadRead,
		size: int32(min(r.res.Size, 1<<31-1)), node: t.nodeIndex(it.Node)}
	if r.cached.auth {
		s.flags |= flagAuthenticated
	}
	s.ttlDeadline = deadlineFor(r.at, r.res.TTL)
	t.addSession(s)
	t.cache.put(s, r.cached)
	fact := diagnose.SessionFact{Session: t.info(s), TTL: r.res.TTL, Time: r.at}
	t.mu.Unlock()
	t.rules.OnInventory(fact)
	t.publishFindings()
}

func deadlineFor(at time.Time, ttl time.Duration) int64 {
	if ttl < 0 {
		return -1
	}
	return at.Add(ttl).UnixNano()
}

func (t *Tracker) addSession(s *session) {
	if !t.inventoryDone && s.flags&flagFromInventory == 0 {
		if t.addedLive == nil {
			t.addedLive = map[string]struct{}{}
		}
		t.addedLive[s.key] = struct{}{}
	}
	t.sessions.put(s)
	if s.flags&flagFromInventory != 0 {
		// The inventory may list a key twice and replace its session unremoved:
		// entries' kept sessions (entry.sess) are looked up again.
		t.tableGen++
	}
}

func (t *Tracker) removeSession(s *session) {
	s.flags &^= flagMetaUnread // phase two must not fill a session that left the table
	t.cache.drop(s)
	t.sessions.remove(s)
	s.flags |= flagRemoved
	if !t.inventoryDone && t.tombstones != nil {
		t.tombstones[s.key] = struct{}{}
	}
}
