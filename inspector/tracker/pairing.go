// Pairing: within the correlation window, a birth is linked to the session it
// replaces (rename, payload, kept old key, or timing when it is the only possibility).

package tracker

import (
	"sort"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
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

// delsStillPairing returns, for a pending birth, until when it should wait before
// pairing, and whether the wait is for a deleted key's earlier entries. A birth waits
// until the window of the latest deletion after it is over (another birth that shares
// more with that deletion may still come), and until the earlier entries of a deleted
// key nearby are decided (the deleted session must be in the table, with what was
// read of it, to be compared) when that deletion came before the birth; the second
// wait always ends, as it only ever waits for earlier entries.
func (t *Tracker) delsStillPairing(b *entry) (until time.Time, forChain bool) {
	if _, birth := t.pendingBirths[b.m.Framework][b]; !birth {
		return time.Time{}, false
	}
	for d := range t.pendingDels[b.m.Framework] {
		if d.done || d.consumed || d.key == b.key || absDur(d.first.Sub(b.first)) > t.cfg.Window {
			continue
		}
		// Only a deletion before the birth: waits then go back in time, so they end
		// (two fast logins would otherwise wait for each other's entries).
		if p := d.prev; p != nil && !p.done && !d.first.After(b.first) {
			if at := p.deadline.Add(time.Millisecond); at.After(until) {
				until, forChain = at, true
			}
		}
		if at := d.first.Add(t.cfg.Window + time.Millisecond); d.first.After(b.first) && at.After(until) {
			until = at
		}
	}
	return until, forChain
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
	if newC != nil {
		fw = newC.fw // the payload's framework where rows share the prefix
	}
	s := &session{key: e.key, fw: t.fwIndex(fw), ref: refOf(e.m.StoreID), born: e.first.UnixNano()}
	t.addSession(s)
	p := t.findPredecessor(e, newC)
	var ev *model.Event
	if from := p.from; from != nil {
		ev = t.newEvent(e, model.KindRegenerated, s)
		info := t.info(from)
		ev.From = &info
		ev.Evidence = p.evidence
		ev.OldKept = p.oldKept
		s.flags |= flagBornRegenerated
		t.sessions.setRegen(s, regenRefs{from: from.ref})
		if p.oldKept {
			from.flags |= flagRegeneratedTo
			fromRegen := t.sessions.regenOf(from)
			fromRegen.to = s.ref
			t.sessions.setRegen(from, fromRegen)
		} else {
			t.rememberEnded(from, model.KindRegenerated, "", e.first)
			t.removeSession(from)
		}
	} else {
		ev = t.newEvent(e, model.KindCreated, s)
		for _, c := range p.candidates {
			ev.Candidates = append(ev.Candidates, t.info(c))
		}
	}
	if e.readSuperseded && newC != nil {
		// Read after the key's next write: good enough to tell whose data the session
		// carries, but not its baseline, or that next write would compare as unchanged.
		newC, e.unread = nil, model.UnreadSuperseded
	}
	if newC == nil {
		if e.unread == "" && !e.has(backend.OpSet) && !e.has(backend.OpHSet) {
			// Only the key's "new" or its TTL arrived (a gap lost the write): nothing
			// was read, and an event without a reason reads as a payload seen. The
			// fixation rule took such a birth for an anonymous session, and the next
			// write, logged in all along, for a login on the same id.
			e.unread = model.UnreadNoWrite
		}
		ev.PayloadUnread = e.unread
	}
	t.applyWrite(e, s, newC)
	t.fillFromSession(ev, s, newC)
	ev.TTLRead = e.ttlRead()
	return ev
}

// predecessor is what findPredecessor decided for a birth.
type predecessor struct {
	from       *session // the session it replaces; nil when none is linked
	evidence   string
	oldKept    bool
	candidates []*session // when from is nil: sessions that ended nearby, any of which it may replace
}

// findPredecessor links a birth to the session it replaces, on evidence: a rename; the
// HTTP exchange that deleted the old id and set the new cookie, when the proxy saw it;
// the payload fields the two sessions share; a surviving session rewritten with the
// payload the new one carries (old_kept); and timing only when the deletion and the
// birth are the one possible pairing and the payloads allow it. When the evidence does
// not single one out, nothing is linked and the deletions nearby are candidates.
func (t *Tracker) findPredecessor(e *entry, newC *cachedPayload) predecessor {
	fw := e.m.Framework
	if e.renameFrom != "" {
		if old := t.sessions.get(e.renameFrom); old != nil {
			return predecessor{from: old, evidence: model.EvidenceRename}
		}
		m, _ := t.cfg.Matcher.Match(e.renameFrom)
		if m.Framework != nil {
			return predecessor{from: &session{key: e.renameFrom, fw: t.fwIndex(m.Framework), ref: refOf(m.StoreID)}, evidence: model.EvidenceRename}
		}
	}
	dels := t.delsNear(e)
	// The proxy, when it saw the requests, knows: the exchange that deleted the old id
	// and handed out the new cookie is the regeneration, whatever the timing and
	// however many logins overlap. A deletion it places in another request is not
	// this birth's predecessor.
	var sameExchange []*entry
	proxyKnows := false
	kept := dels[:0:0]
	for _, d := range dels {
		same, known := t.rules.SameExchange(hexRef(refOf(d.m.StoreID)), d.first, hexRef(refOf(e.m.StoreID)), e.first)
		switch {
		case !known:
			kept = append(kept, d)
		case same:
			proxyKnows = true
			sameExchange = append(sameExchange, d)
			kept = append(kept, d)
		default:
			proxyKnows = true
		}
	}
	dels = kept
	if len(sameExchange) == 1 {
		d := sameExchange[0]
		if startsAfresh(t.sessions.get(d.key), newC) {
			return predecessor{} // a logout that starts a new session in the same request
		}
		return predecessor{from: t.consumeDel(d), evidence: model.EvidenceHTTP}
	}
	best, tie := t.bestByPayload(e, newC, dels)
	if best != nil && !tie {
		return predecessor{from: t.consumeDel(best), evidence: model.EvidencePayload}
	}
	if kept := t.keptOld(e, newC); kept != nil {
		return predecessor{from: kept, evidence: model.EvidencePayload, oldKept: true}
	}
	if len(dels) == 1 && !tie && t.onlyBirthNear(e, dels[0]) && !proxyKnows {
		d := dels[0]
		old := t.sessions.get(d.key)
		if startsAfresh(old, newC) {
			return predecessor{} // a logout: destroyed, then a new anonymous session
		}
		if timingDecides(old, newC) {
			return predecessor{from: t.consumeDel(d), evidence: model.EvidenceTiming}
		}
	}
	var cands []*session
	for _, d := range dels {
		old := t.sessions.get(d.key)
		if old == nil {
			old = &session{key: d.key, fw: t.fwIndex(fw), ref: refOf(d.m.StoreID)}
		}
		if len(dels) == 1 && startsAfresh(old, newC) {
			return predecessor{} // decided: a logout, not a regeneration
		}
		cands = append(cands, old)
		if len(cands) == maxCandidates {
			break
		}
	}
	if len(cands) > 0 {
		t.undecided = append(t.undecided, undecidedBirth{fw: fw, key: e.key, at: e.first, payload: newC})
	}
	return predecessor{candidates: cands}
}

// maxCandidates bounds the candidates listed on one event: enough for a burst of
// logins at once, not a list that grows with a mass logout.
const maxCandidates = 64

// delsNear lists the pending deletions of e's framework within the window of e.
func (t *Tracker) delsNear(e *entry) []*entry {
	var dels []*entry
	for d := range t.pendingDels[e.m.Framework] {
		// The key's own deletion is a later chapter of it, never its predecessor.
		if !d.done && !d.consumed && d.key != e.key && absDur(d.first.Sub(e.first)) <= t.cfg.Window {
			dels = append(dels, d)
		}
	}
	// Map order is random; the candidates are listed oldest first.
	sort.Slice(dels, func(i, j int) bool { return dels[i].first.Before(dels[j].first) })
	return dels
}

// consumeDel absorbs the deletion d into the regeneration that links its session.
func (t *Tracker) consumeDel(d *entry) *session {
	old := t.sessions.get(d.key)
	if old == nil {
		old = &session{key: d.key, fw: t.fwIndex(d.m.Framework), ref: refOf(d.m.StoreID)}
	}
	t.consume(d)
	return old
}

// bestByPayload returns the deletion whose session the new one replaces by payload,
// and whether that is not certain. Every birth near the deletions this one shares
// fields with is a claimant (pending, or left undecided a moment ago); scores are the
// fields each pair shares (sharedFields), and the births are assigned to deletions,
// each at most once, for the largest total. The birth is linked only when every
// assignment with that total gives it the same deletion: two logins at once with
// distinct data are told apart, two with the same data are not. A claimant still
// unread might share as much, so it leaves the question open.
func (t *Tracker) bestByPayload(e *entry, newC *cachedPayload, dels []*entry) (*entry, bool) {
	if !newC.comparable() || len(dels) == 0 {
		return nil, false
	}
	fw := e.m.Framework
	own := make([]int, len(dels))
	best, top := -1, 0
	for j, d := range dels {
		if old := t.sessions.get(d.key); old != nil {
			own[j] = sharedFields(old.payload, newC)
		}
		if own[j] > top {
			best, top = j, own[j]
		}
	}
	if best < 0 {
		return nil, false // nothing shared: no payload evidence
	}
	near := func(at time.Time, d *entry) bool { return absDur(at.Sub(d.first)) <= t.cfg.Window }
	contested := func(at time.Time) bool {
		for j, d := range dels {
			if own[j] > 0 && near(at, d) {
				return true
			}
		}
		return false
	}
	type claimant struct {
		key     string
		at      time.Time
		payload *cachedPayload
	}
	var others []claimant
	for b := range t.pendingBirths[fw] {
		if b == e || b.done || !contested(b.first) {
			continue
		}
		p := b.birthPayload()
		if p == nil {
			return dels[best], true
		}
		others = append(others, claimant{b.key, b.first, p})
	}
	for _, u := range t.undecided {
		if u.fw != fw || !contested(u.at) {
			continue
		}
		if u.payload == nil {
			return dels[best], true
		}
		others = append(others, claimant{u.key, u.at, u.payload})
	}
	if len(others) >= maxCandidates || len(dels) > maxCandidates {
		return dels[best], true // too many at once to weigh: undecided rather than slow
	}
	score := make([][]int, 1+len(others))
	score[0] = own
	for i, o := range others {
		row := make([]int, len(dels))
		for j, d := range dels {
			old := t.sessions.get(d.key)
			if o.key == d.key || old == nil || !near(o.at, d) {
				row[j] = -1
				continue
			}
			row[j] = sharedFields(old.payload, o.payload)
		}
		score[i+1] = row
	}
	total, assigned := maxAssignment(score)
	j := assigned[0]
	if j < 0 {
		return dels[best], true // the best total leaves this birth out: others fit better
	}
	score[0][j] = -1
	if again, _ := maxAssignment(score); again == total {
		return dels[j], true // as good an assignment gives it another deletion, or none
	}
	return dels[j], false
}

// birthPayload is the payload read for a pending birth, nil while unread.
func (e *entry) birthPayload() *cachedPayload {
	if e.result != nil && e.result.res.Exists && e.result.cached != nil {
		return e.result.cached
	}
	return nil
}

// sharedFields counts the fields of older that newer holds with the same value: the
// user's data carried over. Only equality counts; a field that differs counts for
// nothing, since logins rotate CSRF tokens and timestamps. An opaque payload (bytes no
// decoder accepted) is one unnamed field: the same bytes are the same data.
func sharedFields(older, newer *cachedPayload) int {
	if !older.comparable() || !newer.comparable() {
		return 0
	}
	n := 0
	for name, fp := range older.fields {
		if got, ok := newer.fields[name]; ok && got == fp {
			n++
		}
	}
	return n
}

// rotates reports whether a field is one that frameworks renew at login or logout:
// CSRF tokens (Django's login(), Laravel's regenerateToken(), csurf's secret), nonces
// and flash data. A new session that shares only such a field with the old one (a
// framework that kept the token) still carries none of the user's data.
func rotates(name string) bool {
	n := strings.ToLower(name)
	for _, part := range []string{"csrf", "xsrf", "token", "nonce", "flash"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// timingDecides reports whether a lone deletion and a lone birth may be linked on
// timing alone. Only when the new payload was read and can be compared: an opaque
// payload (a Marshal or pickle sessionscope does not decode) or an unread one cannot
// tell a regeneration from a logout that starts a fresh session.
func timingDecides(old *session, newC *cachedPayload) bool {
	if newC == nil || opaqueContent(newC) {
		return false
	}
	return old == nil || old.payload == nil || !opaqueContent(old.payload)
}

// opaqueContent reports whether a payload's content could not be read as fields.
func opaqueContent(c *cachedPayload) bool {
	return c.decoded == nil || len(c.decoded.Fields) == 0 && c.decoded.Opaque != nil
}

// keptOld finds a surviving session rewritten within the window whose payload the new
// one carries: the old key was kept (phpredis regenerate(false) writes the old key,
// then the new one). The best (most fields) unique match wins. Only a rewrite counts:
// a session whose recent write was its own birth is a neighbour, not a predecessor
// (two visitors getting the same fresh payload at once must not be linked), and so is
// one whose first read came with that write (found by the inventory, its earlier life
// unseen).
func (t *Tracker) keptOld(e *entry, newC *cachedPayload) *session {
	if !newC.comparable() {
		return nil
	}
	var kept *session
	keptScore, keptTie := 0, false
	seen := map[string]bool{}
	t.recent.each(e.m.Framework, func(w recentWrite) {
		if w.key == e.key || seen[w.key] || !w.rewrite || absDur(w.at.Sub(e.first)) > t.cfg.Window {
			return
		}
		seen[w.key] = true
		old := t.sessions.get(w.key)
		if old == nil || !carries(newC, old.payload) {
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
	if keptTie {
		return nil
	}
	return kept
}

// undecidedBirth is a birth left unlinked, remembered for a window: a later birth may
// not claim a deletion this one shared as much with.
type undecidedBirth struct {
	fw      *framework.Framework
	key     string
	at      time.Time
	payload *cachedPayload
}

// pruneUndecided forgets unlinked births that can no longer compete.
func (t *Tracker) pruneUndecided(now time.Time) {
	n := 0
	for _, u := range t.undecided {
		if now.Sub(u.at) <= 3*t.cfg.Window {
			t.undecided[n] = u
			n++
		}
	}
	clear(t.undecided[n:])
	t.undecided = t.undecided[:n]
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
			if !rotates(name) && newC.fields[name] == fp {
				return false // the user's data moved along: a regeneration that dropped the marker
			}
		}
	}
	return true
}

// onlyBirthNear reports whether e is the only birth of its framework within the
// window of e or of the deletion d, pending or left undecided: the condition for
// trusting timing alone.
func (t *Tracker) onlyBirthNear(e, d *entry) bool {
	near := func(at time.Time) bool {
		return absDur(at.Sub(e.first)) <= t.cfg.Window || absDur(at.Sub(d.first)) <= t.cfg.Window
	}
	for b := range t.pendingBirths[e.m.Framework] {
		if b != e && !b.done && near(b.first) {
			return false
		}
	}
	for _, u := range t.undecided {
		if u.fw == e.m.Framework && u.key != e.key && near(u.at) {
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
