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
		if m.Framework.UUIDOnly {
			t.verify(it, m)
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
	if _, known := t.sessions[it.Key]; known {
		t.mu.Unlock()
		return
	}
	s := &session{key: it.Key, fw: r.cached.fw, ref: refOf(m.StoreID), flags: flagFromInventory | flagPayloadRead,
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
