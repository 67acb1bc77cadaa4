// Pairing: within the correlation window, a birth is linked to the session it
// replaces (rename, payload, kept old key, or timing when it is the only possibility).

package tracker

import (
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

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
	ev.TTLRead = e.ttlRead()
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
		if startsAfresh(t.sessions[d.key], newC) {
			return nil, "", false // a logout: destroyed, then a new anonymous session
		}
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

// startsAfresh reports whether a birth that follows old's deletion is a logout that
// started a new anonymous session (Laravel's invalidate(), Rails' reset_session) rather
// than a regeneration: old was logged in, the new payload, read, holds no
// authentication marker, and it carries none of old's data. A regeneration keeps the
// user; a logout drops them, so linking the two would give the logged-in session no
// end and point its lineage at an anonymous one.
func startsAfresh(old *session, newC *cachedPayload) bool {
	if old == nil || old.flags&flagAuthenticated == 0 || newC == nil || newC.auth {
		return false
	}
	if old.payload != nil {
		for name, fp := range old.payload.fields {
			if newC.fields[name] == fp {
				return false // the user's data moved along: a regeneration that dropped the marker
			}
		}
	}
	return true
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
