// Slot migrations seen by one half: a process that follows only some masters of a
// Redis Cluster (--nodes) sees a migration to or from a master it does not follow as
// a del without its restore (the session left its view) or a restore without its del
// (the session entered it). Neither is an end or a birth: the process that follows
// the other master reports the session's life before or after the move, so that the
// processes' exports together hold each of its events once.

package tracker

import (
	"github.com/sessionscope/sessionscope/inspector/backend"
)

// requestLocate asks where a deleted key is now, within the read budget. A budget
// spent, or a full read pipeline, leaves the deletion as it was: destroyed.
func (t *Tracker) requestLocate(e *entry) {
	if e.reading {
		return // a del is its own command's entry: nothing else reads for it
	}
	t.startRead(e, backend.ReadRequest{Key: e.key, Type: e.m.Framework.Type, TTLOnly: true, Locate: true})
}

// handedOver reports whether the entry's deletion was the source's half of a slot
// migration: after the del, the key still exists, on another master. Only a Locate
// read (a partial follower's del) says which master holds it. A key deleted and
// written again on the same master is not handed over: that is an end, then a birth.
func (e *entry) handedOver() bool {
	r := e.result
	return r != nil && r.res.Err == nil && r.res.Exists && r.res.Node != "" && r.res.Node != e.delNode
}

// handOver drops a session that a migration carried to another master without
// reporting an end: if that master is followed here its restore adds it back
// (arrive), and if not, the process that follows it reports what happens next.
func (t *Tracker) handOver(e *entry) {
	s := t.sessionOf(e)
	if s == nil {
		return
	}
	if t.nodes[s.node] == e.result.res.Node {
		// The restore on the new master, followed here, came first and moved the
		// session (arrive): this del is the migration's late half.
		return
	}
	// Its page here says where it went, rather than that it ended.
	t.rememberEnded(s, "", e.result.res.Node, e.first)
	t.removeSession(s)
	t.stats.HandedOver.Add(1)
	t.stats.Migrated.Add(1)
}

// arrives reports whether the entry is a restore, alone, of a key the table does not
// hold on the restoring master: in a partial follower, a session a migration brought
// from a master another process follows (or from one followed here whose del has not
// come yet). A RESTORE that replaces a session on its own master is an update.
func (t *Tracker) arrives(e *entry) bool {
	if !e.has(backend.OpRestore) || e.ops&^(1<<backend.OpNew|1<<backend.OpRestore) != 0 {
		return false
	}
	s := t.sessionOf(e)
	return s == nil || t.nodes[s.node] != e.restoreNode
}

// arrive adds the session a migration brought here, or moves it to the restoring
// master, with no event: it was born, and seen born, before it moved. Its payload
// read is the baseline the next write is compared with.
func (t *Tracker) arrive(e *entry) {
	if s := t.sessionOf(e); s != nil {
		s.node = t.nodeIndex(e.restoreNode)
		t.stats.Migrated.Add(1)
		return
	}
	var newC *cachedPayload
	if r := e.result; r != nil && r.res.Exists && r.res.Err == nil && r.cached != nil && !e.readSuperseded {
		newC = r.cached
	}
	if e.m.Framework.UUIDOnly && (e.result != nil && e.result.notSession || newC == nil) {
		t.stats.NotSessions.Add(1) // only its shape made it a candidate (writeEvent)
		return
	}
	fw := e.m.Framework
	if newC != nil {
		fw = newC.fw
	}
	s := &session{key: e.key, fw: t.fwIndex(fw), ref: refOf(e.m.StoreID), node: t.nodeIndex(e.restoreNode)}
	if r := e.result; r != nil && r.res.Exists && r.res.Err == nil {
		s.ttlDeadline = deadlineFor(e.first, r.res.TTL)
		if !r.res.TTLOnly {
			s.size = int32(min(r.res.Size, 1<<31-1))
		}
	}
	t.addSession(s)
	if newC != nil {
		s.flags |= flagPayloadRead
		if newC.auth {
			s.flags |= flagAuthenticated
		}
		t.cache.put(s, newC)
	}
	t.stats.Arrived.Add(1)
}
