// Ended sessions: what was known of a session when it ended, so that its page can
// still say who was logged in, since when and how large it was after a logout or an
// expiry took it out of the table.

package tracker

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// maxEnded bounds the ended sessions remembered: as many as the event ring's objects,
// so a session whose events are still in the ring has its facts too. An entry is a
// copy of the session's metadata without its payload, about 150 bytes.
const maxEnded = 10_000

// EndedSession is the last known state of a session that is no longer in the store,
// or no longer where this process follows it.
type EndedSession struct {
	Row  SessionRow // as the table last held it; Format names the last payload read
	Kind model.Kind // how it ended: destroyed, expired, evicted or regenerated (moved to a new id)
	At   time.Time  // when it ended, or moved
	// MovedToNode, set instead of Kind, is the master a slot migration carried the key
	// to, one this process does not follow (--nodes): the session did not end, it
	// lives on there, and the process that follows that master reports the rest.
	MovedToNode string
}

type endedSession struct {
	s      session // a copy; its payload is dropped
	regen  regenRefs
	format string
	kind   model.Kind
	moved  string // the master a migration carried it to (handOver); kind is "" then
	at     int64
}

// endedTable is a bounded FIFO of ended sessions by ref. It is written on the tracker
// goroutine under Tracker.mu and read under its read lock.
type endedTable struct {
	byRef map[[6]byte]*endedSession
	ring  []*endedSession
	next  int
}

func (et *endedTable) add(e *endedSession) {
	if et.byRef == nil {
		et.byRef = map[[6]byte]*endedSession{}
		et.ring = make([]*endedSession, 0, 64)
	}
	if len(et.ring) < maxEnded {
		et.ring = append(et.ring, e)
	} else {
		if old := et.ring[et.next]; et.byRef[old.s.ref] == old {
			delete(et.byRef, old.s.ref)
		}
		et.ring[et.next] = e
		et.next = (et.next + 1) % maxEnded
	}
	et.byRef[e.s.ref] = e
}

// rememberEnded keeps s's last known facts before it leaves the table: how it ended,
// or the master it moved to. Called with t.mu held, on the tracker goroutine.
func (t *Tracker) rememberEnded(s *session, kind model.Kind, movedTo string, at time.Time) {
	if t.sessions.get(s.key) != s {
		return // never tracked: nothing is known of it
	}
	e := &endedSession{s: *s, regen: t.sessions.regenOf(s), kind: kind, moved: movedTo, at: at.UnixNano()}
	e.s.payload = nil
	if s.payload != nil && s.payload.decoded != nil {
		e.format = string(s.payload.decoded.Format)
	}
	t.ended.add(e)
}

// EndedSession returns the last known facts of a session that ended; the error wraps
// ErrNotFound when none is remembered (it ended long ago, or never was tracked).
func (t *Tracker) EndedSession(ref string) (EndedSession, error) {
	key, ok := parseRef(ref)
	if ok {
		t.mu.RLock()
		defer t.mu.RUnlock()
		if e := t.ended.byRef[key]; e != nil {
			s := e.s
			row := t.row(&s)
			regenRow(&row, s.flags, e.regen) // the copy is not in the table
			row.Format = e.format
			return EndedSession{Row: row, Kind: e.kind, At: time.Unix(0, e.at), MovedToNode: e.moved}, nil
		}
	}
	return EndedSession{}, fmt.Errorf("ended session %s: %w", ref, ErrNotFound)
}
