// Classification: raw key operations gathered into per-key entries, then each entry
// turned into one lifecycle event (touched, updated, expired, evicted, destroyed, or a birth).

package tracker

import (
	"sort"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

func (t *Tracker) onRaw(ev backend.RawEvent) {
	if ev.Op == backend.OpGap {
		t.emitGap(ev)
		return
	}
	t.stats.RawEvents.Add(1)
	// Which command of the node's stream this notification belongs to: the store marks
	// the second and later notifications of one command (SETEX's set then expire).
	// The count of the node whose notifications keep coming is kept beside the map:
	// two lookups of a string key per notification were a measurable share.
	if ev.Node != t.cmdNode {
		t.commands[t.cmdNode] = t.cmdNum
		t.cmdNode, t.cmdNum = ev.Node, t.commands[ev.Node]
	}
	if !ev.Continues {
		t.cmdNum++
	}
	command := t.cmdNum
	// The rest of a command (SETEX's expire after its set) joins the entry its first
	// notification opened, the latest one: that entry is still the key's pending one
	// (a later entry of the key would be the latest, and a decided one is done), so
	// neither the key's match nor its pending entry is looked up again. At a few
	// hundred thousand notifications a second those map lookups, each a cache miss in
	// a large table, are a good share of the tracker's time.
	var (
		m    framework.Match
		last *entry
	)
	if l := t.lastEntry; ev.Continues && l != nil && !l.done && l.command == command && l.node == ev.Node && l.key == ev.Key {
		m, last = l.m, l
	} else {
		// Only keys that matched have entries: a key's pending entry holds its match,
		// which the matcher would only find again, trying each framework's prefix.
		last = t.pending[ev.Key]
		if last != nil {
			m = last.m
		} else {
			var ok bool
			if m, ok = t.cfg.Matcher.Match(ev.Key); !ok {
				return
			}
		}
		if last != nil && last.done {
			// Decided but still in pending (consumed by a pairing elsewhere keeps
			// its place until replaced): no longer the key's latest.
			last.latest = false
			last = nil
		}
	}
	if t.resync != nil {
		t.resync.live[ev.Key] = struct{}{}
	}
	// One command is one entry, hence one event. The key's latest entry is joined only
	// by the rest of its own command, or by the other half of a slot migration (two
	// masters, two streams); anything else opens the key's next entry, which is
	// decided after this one.
	migration := last != nil && last.migratesWith(ev.Op, ev.Node)
	e := last
	defer func() { t.lastEntry = e }()
	if !migration && !(last != nil && ev.Continues && last.node == ev.Node && last.command == command) {
		e = &entry{key: ev.Key, m: m, first: ev.Time, deadline: ev.Time.Add(t.cfg.Window), node: ev.Node,
			evidence: ev.Evidence, command: command, prev: last}
		if last != nil {
			last.next = e
			// What the earlier entry found in the table holds for this one too, while
			// it stays valid (sessionOf).
			e.sess, e.sessGen = last.sess, last.sessGen
			// The session exists once its earlier entry is decided, unless that entry
			// ends it: then this one is a new chapter of the key (a birth).
			e.knownAtStart = last.ops&endOps == 0
			// The earlier entry's payload read may have run after this write: still
			// out, or answered about when this notification arrived. The two come
			// over different connections, each read by its own goroutine, so their
			// arrival order is only known to within supersedeMargin.
			if isWrite(ev.Op) && (last.reading && !last.readTTLOnly || last.payloadReadAt.After(ev.Time.Add(-supersedeMargin))) {
				last.readSuperseded = true
			}
		} else {
			// The tracker goroutine is the table's only writer: it reads without the lock.
			e.sess, e.sessGen = t.sessions.get(ev.Key), t.tableGen
			e.knownAtStart = e.sess != nil
		}
		if last != nil {
			last.latest = false
		}
		t.pending[ev.Key] = e
		e.latest = true
		t.queue.push(e)
		t.order.push(e)
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
		if t.partial {
			// The target of a migration may be a master another process follows:
			// ask where the key is now (handOver).
			t.requestLocate(e)
		}
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
		if t.partial && !e.knownAtStart {
			// Following part of a cluster, it is a session arriving from a master
			// another process follows (arrive): no birth, so no regeneration either
			// (RESTORE's "new" indexed it).
			if set := t.pendingBirths[fw]; set != nil {
				delete(set, e)
			}
		} else if !e.knownAtStart {
			t.index(t.pendingBirths, fw, e)
		}
		t.requestRead(e, false)
	case backend.OpRenameFrom:
		t.lastRename = e
	case backend.OpRenameTo:
		// Redis publishes rename_from and rename_to back to back for one RENAME.
		if src := t.lastRename; src != nil && !src.done && src.command == command {
			e.renameFrom = src.key
			src.consumed = true
		}
		t.lastRename = nil
		e.writeGen++
		t.index(t.pendingBirths, fw, e)
		t.requestRead(e, false)
	}
}

// supersedeMargin is how close to a write's notification an earlier read may have
// answered and still be suspected of having seen that write.
const supersedeMargin = 10 * time.Millisecond

// isWrite reports whether op writes the key's payload.
func isWrite(op backend.Op) bool {
	return op == backend.OpSet || op == backend.OpHSet || op == backend.OpHDel || op == backend.OpRestore || op == backend.OpRenameTo
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

// finalize emits the entry's event. Unless forced, an entry whose read is still out
// waits (up to FetchWait), and a delete waits for births that may turn out to be its
// regeneration.
func (t *Tracker) finalize(e *entry, now time.Time, forced bool) {
	// A key's entries are decided in the order of its commands: the session table and
	// the events must see the first write before the second.
	if p := e.prev; p != nil && !p.done {
		if !forced {
			e.deadline = laterOf(p.deadline, now).Add(time.Millisecond)
			t.queue.push(e)
			return
		}
		t.finalizeEarlier(p, now)
	}
	e.prev = nil // decided: let the chain behind it be collected
	if !forced {
		if e.reading && now.Before(e.deadline.Add(t.cfg.FetchWait)) && e.waits < 1000 {
			e.waits++
			e.deadline = now.Add(5 * time.Millisecond)
			t.queue.push(e)
			return
		}
		until, forChain := t.delsStillPairing(e)
		if forChain {
			// The entries waited for may be overdue in the queue behind this one.
			until = laterOf(until, now.Add(time.Millisecond))
		}
		if now.Before(until) && (forChain || e.postponed < 5) {
			// A birth that a deletion nearby may pair with waits for what it must
			// compare with (see delsStillPairing).
			e.postponed++
			e.deadline = until
			t.queue.push(e)
			return
		}
		if e.has(backend.OpDel) && !e.migrated() && !e.handedOver() && !e.consumed && e.postponed < 5 {
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
	e.settleSuperseded()
	e.done = true
	if e.latest {
		e.latest = false
		delete(t.pending, e.key)
	}
	t.unindex(e)
	if e.consumed {
		t.release() // absorbed into a regeneration or a rename: it holds back no event now
		return
	}
	var ev *model.Event
	t.mu.Lock()
	switch {
	case e.migrated():
		// A slot migration in a Redis Cluster: the session is the same, on another
		// master. Nothing happened to it that the app did; only its node changes.
		if s := t.sessionOf(e); s != nil {
			s.node = t.nodeIndex(e.restoreNode)
		}
		t.stats.Migrated.Add(1)
		e.node = e.restoreNode
		// The app may have written the session on its new master within the window.
		if e.ops&^migrationOps != 0 {
			ev = t.writeEvent(e)
		}
	case t.partial && t.arrives(e):
		t.arrive(e)
	case e.has(backend.OpExpired):
		ev = t.endEvent(e, model.KindExpired)
	case e.has(backend.OpEvicted):
		ev = t.endEvent(e, model.KindEvicted)
	case e.has(backend.OpDel) && e.handedOver():
		t.handOver(e)
	case e.has(backend.OpDel):
		if ev = t.endEvent(e, model.KindDestroyed); ev != nil {
			ev.Cause = model.CauseApp
		}
	case e.has(backend.OpRenameFrom):
		// Renamed to a key that is not a session: for sessionscope the session ended.
		if ev = t.endEvent(e, model.KindDestroyed); ev != nil {
			ev.Cause = model.CauseApp
			ev.Reason = "renamed to a key outside the session prefixes"
		}
	default:
		ev = t.writeEvent(e)
	}
	t.mu.Unlock()
	if ev != nil {
		t.emit(ev)
	} else {
		t.release() // decided with no event: later events it held back may leave
	}
}

// settleSuperseded clears the suspicion that the entry's read saw the key's next
// write when the next entry's own read proves otherwise: that read, not suspected
// itself, holds the next write's content, and this entry's read differs from it, so
// it came before. (Equal content leaves the doubt: the app may have written the same
// bytes twice, or this read may have seen the second write.)
func (e *entry) settleSuperseded() {
	n := e.next
	e.next = nil
	if !e.readSuperseded || n == nil || n.readSuperseded || n.reading {
		return
	}
	mine, theirs := e.result, n.result
	if mine == nil || mine.cached == nil || theirs == nil || theirs.cached == nil || theirs.res.TTLOnly {
		return
	}
	if mine.cached.digest != theirs.cached.digest {
		e.readSuperseded = false
	}
}

// finalizeEarlier decides p and the key's entries before it, oldest first.
func (t *Tracker) finalizeEarlier(p *entry, now time.Time) {
	var chain []*entry
	for ; p != nil && !p.done; p = p.prev {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if !chain[i].done {
			t.finalize(chain[i], now, true)
		}
	}
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sessionOf is the session the table holds under the entry's key, nil when none: the
// one the entry found when it opened while that one is still in the table. A session
// leaves the table only through removeSession (an end, a regeneration, a resync),
// which marks it, and a live birth adds one only where none is; the inventory's
// additions, which may replace a session, move the table to a new generation. A key
// without a session is looked up again: a birth may have added one.
func (t *Tracker) sessionOf(e *entry) *session {
	if e.sessGen != t.tableGen || e.sess == nil || e.sess.flags&flagRemoved != 0 {
		e.sess, e.sessGen = t.sessions.get(e.key), t.tableGen
	}
	return e.sess
}

// endEvent builds expired, evicted or destroyed, and removes the session. It returns
// nil for a key that was never taken for a session (see writeEvent's UUIDOnly case).
func (t *Tracker) endEvent(e *entry, kind model.Kind) *model.Event {
	s := t.sessionOf(e)
	if s == nil {
		if e.m.Framework.UUIDOnly {
			return nil // never taken for a session: its end is no session's end
		}
		s = &session{key: e.key, fw: t.fwIndex(e.m.Framework), ref: refOf(e.m.StoreID)}
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
	t.rememberEnded(s, kind, "", e.first)
	t.removeSession(s)
	return ev
}

// writeEvent classifies a write: a birth (created or regenerated), an update or a touch.
func (t *Tracker) writeEvent(e *entry) *model.Event {
	s := t.sessionOf(e)
	var newC *cachedPayload
	if e.result != nil && e.result.res.Exists && e.result.cached != nil {
		newC = e.result.cached
	}
	if e.readSuperseded && newC != nil && (s != nil && e.renameFrom == "" && (!e.has(backend.OpNew) || e.knownAtStart)) {
		// An update read after the key's next write: rather than show that write's
		// content as this one's change, this update is shown unread, and the next
		// entry, which reads for itself, compares against the last baseline.
		newC, e.unread = nil, model.UnreadSuperseded
	}
	if e.result != nil && !e.result.res.Exists && e.result.res.Err == nil && e.unread == "" {
		e.unread = model.UnreadGone
	}
	if e.result != nil && e.result.res.Err != nil && e.unread == "" {
		e.unread = model.UnreadError
	}
	if e.m.Framework.UUIDOnly && (e.result != nil && e.result.notSession || s == nil && newC == nil) {
		// A key that only its shape made a candidate (an empty --prefix): without a
		// payload of that framework it is not taken for a session.
		if s != nil {
			t.removeSession(s)
		}
		t.stats.NotSessions.Add(1)
		return nil
	}
	if s != nil && newC != nil {
		s.fw = t.fwIndex(newC.fw)
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
		changed, _ := changedFields(s.payload, newC)
		if len(changed) == 0 {
			ev = t.newEvent(e, model.KindTouched, s)
		} else {
			ev = t.newEvent(e, model.KindUpdated, s)
			ev.Changed = namedOnly(changed)
			// Only a login that appears counts: a marker that was already there belongs
			// to a login sessionscope has seen (or judged) before. A marker may become
			// a login without being added (user_id null -> 42, a user map gaining an id).
			ev.AuthAdded = newC.auth && s.flags&flagAuthenticated == 0
		}
	default:
		// No cached baseline (the cache dropped it, or the session predates sessionscope)
		// or no read: it was written, and that is all that can be said. A marker only
		// "appears" against a payload read before: the first read of a session found by
		// the inventory, or whose earlier reads were skipped for budget, is its baseline.
		ev = t.newEvent(e, model.KindUpdated, s)
		if newC == nil {
			ev.PayloadUnread = e.unread
		}
		if newC != nil && s.flags&flagPayloadRead != 0 && s.flags&flagAuthenticated == 0 && newC.auth {
			ev.AuthAdded = true
		}
	}
	t.applyWrite(e, s, newC)
	t.fillFromSession(ev, s, newC)
	ev.TTLRead = e.ttlRead()
	return ev
}

func (t *Tracker) applyWrite(e *entry, s *session, newC *cachedPayload) {
	at := e.first.UnixNano()
	s.lastActivity = at
	s.node = t.eventNodeIndex(e.node) // a key can move between cluster nodes (resharding)
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
	// A rewrite, as opposed to the session's birth: born before this write, or read
	// before it.
	rewrite := s.born != 0 && s.born < at || s.flags&flagPayloadRead != 0
	if newC != nil {
		s.flags |= flagPayloadRead
		if newC.auth {
			s.flags |= flagAuthenticated
		} else {
			s.flags &^= flagAuthenticated
		}
		t.cache.put(s, newC)
		t.recent.add(e.m.Framework, e.key, e.first, rewrite) // by prefix row, as pairing looks it up
	}
}

// eventNodeIndex is nodeIndex for the node of an event, remembering the last one: one
// node publishes almost every event in a row.
func (t *Tracker) eventNodeIndex(node string) uint8 {
	if node != t.eventNode || t.eventNode == "" {
		t.eventNode, t.eventNodeIdx = node, t.nodeIndex(node)
	}
	return t.eventNodeIdx
}

func (t *Tracker) newEvent(e *entry, kind model.Kind, s *session) *model.Event {
	// The event and its session's info in one allocation: the tracker builds one
	// event per command, and its allocations are much of the collector's work.
	// Its fields are set one by one: copying a whole Event into the heap object
	// takes the collector's bulk write barrier while it marks.
	b := &struct {
		ev   model.Event
		info model.SessionInfo
	}{info: t.info(s)}
	ev := &b.ev
	ev.Type, ev.Time, ev.Kind, ev.Session = model.TypeEvent, e.first, kind, &b.info
	ev.Backend, ev.Node, ev.Evidence = t.cfg.Backend, e.node, e.evidence
	return ev
}

func (t *Tracker) fillFromSession(ev *model.Event, s *session, c *cachedPayload) {
	hasTTL := s.ttlDeadline == -1 || s.ttlDeadline > 0 && (ev.Kind != model.KindUpdated || ev.PayloadUnread == "")
	if hasTTL || s.size > 0 {
		// TTL and size in one allocation rather than one each.
		v := &struct {
			ttl  int64
			size int
		}{ttl: -1, size: int(s.size)}
		if s.ttlDeadline > 0 {
			v.ttl = int64((time.Duration(s.ttlDeadline-ev.Time.UnixNano()) + time.Second - 1) / time.Second)
		}
		if hasTTL {
			ev.TTL = &v.ttl
		}
		if s.size > 0 {
			ev.Size = &v.size
		}
	}
	if c != nil && c.decoded != nil {
		ev.Format = string(c.decoded.Format)
	}
	ev.Authenticated = s.flags&flagAuthenticated != 0
}

func (t *Tracker) info(s *session) model.SessionInfo {
	id, fw := t.storeID(s), t.fwOf(s)
	return model.SessionInfo{Ref: s.refString(), ID: model.ShowID(id, t.cfg.RevealIDs),
		Framework: fw.Name, KeyPrefix: fw.Prefix, StoreID: id}
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
