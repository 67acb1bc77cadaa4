package tracker

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// resyncState is one re-inventory of a node after a gap. Keys that live events touch
// while it runs belong to the live path: their events tell the truth more precisely
// than a scan that may have passed them before they changed, so the reconciliation
// leaves them alone.
type resyncState struct {
	node    string
	nodeIdx uint8
	gap     backend.GapInfo
	seen    map[string]struct{} // keys the scan found
	live    map[string]struct{} // keys with raw events since the resync opened
	born    int
}

// maxNodes bounds the node index kept in each session (one byte, see session.node).
// Past it, nodes share the last index, and a resync of one of them would also judge
// the sessions of the others: more nodes than that is beyond any cluster sessionscope
// is meant to watch.
const maxNodes = 255

// nodeIndex returns the small index of a node address, adding it when new.
func (t *Tracker) nodeIndex(node string) uint8 {
	if i, ok := t.nodeIdx[node]; ok {
		return i
	}
	if t.nodeCount >= maxNodes {
		return maxNodes - 1
	}
	i := uint8(t.nodeCount)
	t.nodes[i] = node
	t.nodeCount++
	t.nodeIdx[node] = i
	return i
}

func (t *Tracker) onResync(r backend.Resync, feed backend.Feed) {
	switch r.Phase {
	case backend.ResyncBegin:
		// What was queued before the resync opened happened before the scan starts:
		// apply it first, so that only later changes count as live for this resync.
		t.drainRaw(feed)
		// Keys still in their correlation window would join the table only after the
		// reconciliation (a regeneration decided 300 ms later), too late to be judged
		// against the scan: a key deleted during the gap stayed as a phantom. A gap
		// lies between them and anything after it, so no pairing is lost by deciding
		// them now.
		t.flushWindow()
		t.resync = &resyncState{node: r.Node, nodeIdx: t.nodeIndex(r.Node), gap: r.Gap,
			seen: map[string]struct{}{}, live: map[string]struct{}{}}
		if r.Started != nil {
			close(r.Started)
		}
	case backend.ResyncItems:
		if t.resync != nil {
			t.resyncItems(r.Items)
		}
	case backend.ResyncEnd:
		if t.resync != nil {
			// Events the scan's changes caused may still be queued: applying them
			// first spares a second end event for a key the reconciliation would
			// otherwise close itself.
			t.drainRaw(feed)
			t.resyncEnd(time.Now())
		}
	case backend.ResyncAbort:
		t.resync = nil
	}
}

// drainRaw applies the raw events queued right now (and no more: the store keeps
// pushing while this runs).
func (t *Tracker) drainRaw(feed backend.Feed) {
	for n := feed.RawLen(); n > 0; n-- {
		t.onRaw(<-feed.Raw)
	}
}

// resyncItems adds the sessions born during the gap and refreshes the others' TTL and
// size, which may have changed unseen.
func (t *Tracker) resyncItems(items []backend.InventoryItem) {
	rs := t.resync
	var (
		born  []*model.Event
		facts []diagnose.SessionFact
	)
	t.mu.Lock()
	for _, it := range items {
		rs.seen[it.Key] = struct{}{}
		if _, live := rs.live[it.Key]; live {
			continue
		}
		if _, pending := t.pending[it.Key]; pending {
			continue
		}
		size := int32(min(it.Size, 1<<31-1))
		if s := t.sessions.get(it.Key); s != nil {
			s.ttlDeadline = deadlineFor(it.Read, it.TTL)
			s.size = size
			s.node = rs.nodeIdx
			continue
		}
		m, ok := t.cfg.Matcher.Match(it.Key)
		if !ok {
			continue
		}
		s := &session{key: it.Key, fw: t.fwIndex(m.Framework), ref: refOf(m.StoreID), flags: flagFromInventory,
			size: size, node: rs.nodeIdx}
		s.ttlDeadline = deadlineFor(it.Read, it.TTL)
		t.addSession(s)
		info := t.info(s)
		ev := &model.Event{Type: model.TypeEvent, Time: it.Read, Kind: model.KindCreated, Session: &info,
			Backend: t.cfg.Backend, Node: rs.node, Evidence: model.EvidenceResync,
			Reason: "born during a gap: found by the re-inventory"}
		t.fillFromSession(ev, s, nil)
		ev.TTLRead = true // the re-inventory read it (PTTL)
		born = append(born, ev)
		facts = append(facts, diagnose.SessionFact{Session: info, TTL: it.TTL, Time: it.Read})
	}
	t.mu.Unlock()
	rs.born += len(born)
	for _, ev := range born {
		// Not through emit: no exchange can be joined to a birth nobody saw, so the
		// rules learn of it as they learn of the inventory.
		t.stats.Emitted.Add(1)
		t.pub.Publish(ev)
	}
	t.rules.OnInventory(facts...)
	t.publishFindings()
}

// resyncEnd closes, as expired or destroyed, the node's sessions the scan did not
// find, then reports the reconciliation. Afterwards the table holds exactly the
// store's keys, give or take the live events still in their correlation window.
func (t *Tracker) resyncEnd(now time.Time) {
	rs := t.resync
	t.resync = nil
	var ended []*model.Event
	t.mu.Lock()
	for s := range t.sessions.all() {
		key := s.key
		if s.node != rs.nodeIdx {
			continue
		}
		if _, ok := rs.seen[key]; ok {
			continue
		}
		if _, ok := rs.live[key]; ok {
			continue
		}
		if _, ok := t.pending[key]; ok {
			continue
		}
		kind, reason := model.KindDestroyed, "gone after a gap before its TTL ran out: deleted (or evicted) during the gap"
		if s.ttlDeadline > 0 && s.ttlDeadline <= now.UnixNano() {
			kind, reason = model.KindExpired, "gone after a gap, and its TTL had run out: expired during the gap"
		}
		m, _ := t.cfg.Matcher.Match(key)
		if m.Framework == nil {
			m.Framework = t.fwOf(s)
		}
		e := &entry{key: key, m: m, first: now, node: rs.node}
		ev := t.endEvent(e, kind)
		ev.Evidence, ev.Reason = model.EvidenceResync, reason
		ended = append(ended, ev)
	}
	t.inventoryDone = true
	t.tombstones = nil
	t.mu.Unlock()
	for _, ev := range ended {
		// The rules must learn that these sessions ended, but no exchange caused what
		// happened unseen, so no Annotate.
		t.stats.Emitted.Add(1)
		t.pub.Publish(ev)
		t.rules.OnEvent(ev)
	}
	from, to := rs.gap.From, rs.gap.To
	ev := &model.Event{Type: model.TypeEvent, Time: now, Kind: model.KindResynced, Backend: t.cfg.Backend,
		Node: rs.node, Evidence: model.EvidenceResync,
		Reason: fmt.Sprintf("session table reconciled with the store: %d sessions found, %d born and %d gone during the gap",
			len(rs.seen), rs.born, len(ended))}
	if !from.IsZero() {
		ev.FromTime, ev.ToTime = &from, &to
	}
	t.stats.Emitted.Add(1)
	t.pub.Publish(ev)
	t.publishFindings()
}
