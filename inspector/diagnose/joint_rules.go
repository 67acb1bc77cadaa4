package diagnose

import (
	"strconv"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// jointRule is a rule that reads exchanges and store events together. Its methods
// run on the tracker goroutine.
type jointRule interface {
	ID() string
	// onExchange sees each proxied exchange once, after it entered the join index.
	onExchange(x *model.Exchange, j *joint, r *Recorder)
	// onEvent sees each emitted event, after Annotate joined it to its exchange.
	onEvent(ev *model.Event, j *joint, r *Recorder)
}

// Annotate joins an event to the exchange that was being served when it happened
// (`exchange`), and marks a deletion done while serving a stranger's request as
// `cause: hijack-suspect`. The tracker calls it just before publishing the event.
func (e *Engine) Annotate(ev *model.Event) {
	j := e.joint
	if j == nil || ev.Session == nil {
		return
	}
	j.absorb(time.Now())
	x := j.exchangeAt(ev.Session.Ref, ev.Time)
	if birth(ev) && x != nil && x.SessionRef == ev.Session.Ref {
		// A new session whose notification falls in a request that already sent its
		// id: the browser had the id from an earlier response. When that response's
		// Set-Cookie issued it and it is still within the join's slack, the write is
		// the tail of that request (PHP writes the session at shutdown, after its
		// output went out) and the birth is its. An id the host never issued (planted,
		// by another host's Set-Cookie or otherwise, then adopted by a lax server) is
		// born in the request that sent it.
		if issuer := j.issuerAt(ev.Session.Ref, ev.Time); issuer != nil && issuer.Start.Before(x.Start) &&
			exchangeHost(issuer) == exchangeHost(x) {
			x = issuer
		}
	}
	if x == nil && ev.From != nil {
		x = j.exchangeAt(ev.From.Ref, ev.Time)
	}
	if x == nil {
		// No ref on the HTTP side: a new session whose cookie never went out, or
		// Laravel's encrypted cookie. Join by time, but only when exactly one request
		// without a readable session was in flight.
		x = j.onlyUnmappedAt(ev.Time)
	}
	if x == nil {
		return
	}
	if ev.Exchange == "" {
		ev.Exchange = x.ID
	}
	if ev.Kind == model.KindDestroyed {
		if f := j.refs[ev.Session.Ref]; f != nil && f.hasOwner && strangerTo(f.owner, x.Client) {
			ev.Cause = model.CauseHijackSuspect
		}
	}
}

// birth reports whether the event brings its session into the store: created, or the
// new id of a regeneration.
func birth(ev *model.Event) bool {
	return ev.Kind == model.KindCreated || ev.Kind == model.KindRegenerated
}

// jointOnEvent records session ends for the joint rules and lets them see the event.
func (e *Engine) jointOnEvent(ev *model.Event) {
	j := e.joint
	if j == nil || ev.Session == nil {
		return
	}
	j.absorb(time.Now())
	markEnd := func(ref string) {
		if f := j.refs[ref]; f != nil {
			f.ended, f.endKind = ev.Time, ev.Kind
		}
	}
	switch ev.Kind {
	case model.KindDestroyed, model.KindExpired, model.KindEvicted:
		markEnd(ev.Session.Ref)
	case model.KindRegenerated:
		if ev.From != nil && !ev.OldKept {
			markEnd(ev.From.Ref)
		}
		if ev.From != nil {
			if f := j.refs[ev.From.Ref]; f != nil {
				f.successor = ev.Session.Ref
			}
		}
	}
	for _, rule := range e.jointRules {
		rule.onEvent(ev, j, &Recorder{e: e, rule: rule.ID()})
	}
}

// jointTick lets the joint rules see new exchanges and make their deferred decisions.
func (e *Engine) jointTick(now time.Time) {
	j := e.joint
	if j == nil {
		return
	}
	j.absorb(now)
	fresh := j.fresh
	j.fresh = nil
	for _, x := range fresh {
		for _, rule := range e.jointRules {
			rule.onExchange(x, j, &Recorder{e: e, rule: rule.ID()})
		}
	}
	j.runDue(now)
}

// findExchange returns the remembered exchange of a session by id.
func (j *joint) findExchange(ref, id string) *model.Exchange {
	if f := j.refs[ref]; f != nil {
		for _, x := range f.exchanges {
			if x.ID == id {
				return x
			}
		}
	}
	return nil
}

// host is the host an exchange went to, from its masked URL.
func exchangeHost(x *model.Exchange) string {
	u := x.URL
	if i := indexAfterScheme(u); i >= 0 {
		u = u[i:]
	}
	for i := 0; i < len(u); i++ {
		if u[i] == '/' || u[i] == '?' {
			return u[:i]
		}
	}
	return u
}

func indexAfterScheme(u string) int {
	for i := 0; i+2 < len(u); i++ {
		if u[i] == ':' && u[i+1] == '/' && u[i+2] == '/' {
			return i + 3
		}
	}
	return -1
}

// sessionLine is a short evidence line for an exchange.
func sessionLine(x *model.Exchange, what string) string {
	return evidencePrefix(x) + " → " + strconv.Itoa(x.Status) + locationSuffix(x) + ": " + what
}

func locationSuffix(x *model.Exchange) string {
	if x.Location == "" {
		return ""
	}
	return " " + x.Location
}

func ms(d time.Duration) string {
	return strconv.Itoa(int(d.Round(time.Millisecond)/time.Millisecond)) + " ms"
}

// rec returns a recorder for a sibling rule id: one rule file may report two ids
// (hijack-suspect and hijack-ignored, cookie-outlives-session and
// session-outlives-cookie).
func (r *Recorder) rec(rule string) *Recorder { return &Recorder{e: r.e, rule: rule} }

// SameExchange tells the tracker whether a deletion (of oldRef at oldAt) and a birth
// (of newRef at newAt) happened while serving one HTTP request — a regeneration seen
// from the HTTP side — or in two different ones, which timing alone would have
// wrongly paired (a logout followed by the next visitor's new session). known is
// false when the proxy saw neither.
func (e *Engine) SameExchange(oldRef string, oldAt time.Time, newRef string, newAt time.Time) (same, known bool) {
	j := e.joint
	if j == nil {
		return false, false
	}
	j.absorb(time.Now())
	xo := j.exchangeAt(oldRef, oldAt)
	xn := j.exchangeAt(newRef, newAt)
	switch {
	case xo != nil && xn != nil:
		return xo == xn || issuedBefore(xo, newRef, newAt), true
	case xo != nil:
		return issuedBefore(xo, newRef, newAt), true
	case xn != nil:
		return inFlight(xn, oldAt) && xn.SessionRef == oldRef, true
	}
	return false, false
}

// issuedBefore reports whether x, the request that deleted the old session, also
// handed the browser the new session's cookie and started before the birth was seen.
// Such a birth belongs to x even when its notification arrived after x ended: PHP
// writes the new session at shutdown, and under load the notification can land after
// the browser's next request (which already carries the new cookie) has started, so
// the birth's time alone points at that next request.
func issuedBefore(x *model.Exchange, ref string, at time.Time) bool {
	return setsRef(x, ref) && !at.Before(x.Start.Add(-joinSlack))
}

func setsRef(x *model.Exchange, ref string) bool {
	for _, sc := range x.SetCookies {
		if sc.SessionRef == ref {
			return true
		}
	}
	return false
}

// onlyUnmappedAt returns the single exchange in flight at t that carried no session
// cookie sessionscope could map to a store id, or nil when there is none or more
// than one.
func (j *joint) onlyUnmappedAt(t time.Time) *model.Exchange {
	var found *model.Exchange
	for _, x := range j.recent {
		if x.SessionRef != "" || !inFlight(x, t) {
			continue
		}
		if found != nil {
			return nil
		}
		found = x
	}
	return found
}
