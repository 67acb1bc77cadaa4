package diagnose

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// The joint rules read the store's events and the proxy's exchanges together: they
// answer what neither side can alone (a write that landed after its redirect, a new
// session whose cookie never went out, a logout that left the key behind).

const (
	// joinRetention is how long exchanges stay joinable. Store events reach the rules a
	// correlation window after they happened; a minute leaves room for slow requests.
	joinRetention = time.Minute
	// maxJoinExchanges bounds the join index whatever the traffic.
	maxJoinExchanges = 5000
	// maxPerRef bounds the exchanges remembered per session.
	maxPerRef = 32
	// maxTrackedRefs bounds the per-session facts (owner, issuer, end).
	maxTrackedRefs = 50000
	// joinSlack absorbs the gap between the proxy's clock readings and the time the
	// store's notification was received: a write done while serving a request is seen
	// a few milliseconds after the proxy started streaming the response.
	joinSlack = 25 * time.Millisecond
)

// LiveSession is what the session table says of a session right now.
type LiveSession struct {
	TTL time.Duration // -1: no TTL; 0: unknown
}

// SessionLookup answers from the session table whether a session (by ref) exists. It
// is called on the tracker goroutine only.
type SessionLookup func(ref string) (LiveSession, bool)

// StoreCause is a finding that explains what happened on an exchange, seen from the
// store side (stale-read, cookie-missing, session-not-shared); the login-loop rule
// names it as the loop's root cause.
type StoreCause struct {
	FindingID string
	Summary   string
}

// refFacts is what the joint rules remember of one session ref.
type refFacts struct {
	owner     model.Client // the first client that held it
	hasOwner  bool
	issuedBy  *model.Exchange // the exchange whose response set the cookie
	ended     time.Time       // when the store ended it (destroyed, expired, moved)
	endKind   model.Kind
	successor string            // the ref the store says it was regenerated into
	exchanges []*model.Exchange // newest last, bounded by maxPerRef
	seen      time.Time
	node      string    // the store node (server) that first held it, for node-local stores
	nodeSince time.Time // when it was first written there
}

// deferred is a decision that needs the store's answer first: it runs on the first
// tick after due.
type deferred struct {
	due time.Time
	run func(now time.Time)
}

// joint is the shared state of the joint rules. Exchanges arrive on proxy
// goroutines through incoming; everything else runs on the tracker goroutine.
type joint struct {
	window time.Duration
	lookup SessionLookup

	mu       sync.Mutex
	incoming []*model.Exchange
	causes   map[string][]StoreCause // exchange id -> store-side causes (read by AnalyzeExchanges)
	causeIDs []string                // insertion order, to bound causes
	onCause  func(model.Client)      // set once by NewEngine: replays the client

	// Tracker goroutine only.
	recent  []*model.Exchange
	refs    map[string]*refFacts
	pending []deferred
	fresh   []*model.Exchange // absorbed since the rules last looked
}

func newJoint(window time.Duration) *joint {
	return &joint{window: window, causes: map[string][]StoreCause{}, refs: map[string]*refFacts{}}
}

// OnExchange hands a proxied exchange (annotated with the browser's verdicts) to the
// joint rules. It may be called from any goroutine and never blocks on the rules.
func (e *Engine) OnExchange(x *model.Exchange) {
	j := e.joint
	j.mu.Lock()
	if len(j.incoming) < maxJoinExchanges {
		j.incoming = append(j.incoming, x)
	}
	j.mu.Unlock()
}

// SetLookup lets the joint rules ask the session table whether a session exists.
func (e *Engine) SetLookup(l SessionLookup) { e.joint.lookup = l }

// StoreCauses returns the store-side findings that explain what happened on an
// exchange. Safe from any goroutine.
func (e *Engine) StoreCauses(exchangeID string) []StoreCause {
	e.joint.mu.Lock()
	defer e.joint.mu.Unlock()
	return append([]StoreCause(nil), e.joint.causes[exchangeID]...)
}

// addCause records a store-side cause for an exchange and has its client replayed.
func (j *joint) addCause(x *model.Exchange, c StoreCause) {
	j.mu.Lock()
	for _, have := range j.causes[x.ID] {
		if have.FindingID == c.FindingID {
			j.mu.Unlock()
			return
		}
	}
	if _, ok := j.causes[x.ID]; !ok {
		j.causeIDs = append(j.causeIDs, x.ID)
		if len(j.causeIDs) > maxJoinExchanges {
			delete(j.causes, j.causeIDs[0])
			j.causeIDs = j.causeIDs[1:]
		}
	}
	j.causes[x.ID] = append(j.causes[x.ID], c)
	notify := j.onCause
	j.mu.Unlock()
	if notify != nil {
		notify(x.Client)
	}
}

// absorb moves the exchanges handed over since the last call into the index.
func (j *joint) absorb(now time.Time) {
	j.mu.Lock()
	in := j.incoming
	j.incoming = nil
	j.mu.Unlock()
	for _, x := range in {
		j.recent = append(j.recent, x)
		for _, ref := range exchangeRefs(x) {
			f := j.facts(ref, now)
			f.exchanges = append(f.exchanges, x)
			if len(f.exchanges) > maxPerRef {
				f.exchanges = f.exchanges[len(f.exchanges)-maxPerRef:]
			}
		}
		for i := range x.SetCookies {
			sc := &x.SetCookies[i]
			if sc.SessionRef != "" && !deletesCookie(sc, x.Start) {
				f := j.facts(sc.SessionRef, now)
				if f.issuedBy == nil {
					f.issuedBy = x
				}
				if !f.hasOwner {
					f.owner, f.hasOwner = x.Client, true
				}
			}
		}
		if x.SessionRef != "" {
			f := j.facts(x.SessionRef, now)
			if !f.hasOwner {
				f.owner, f.hasOwner = x.Client, true
			}
		}
	}
	j.fresh = append(j.fresh, in...)
	// Forget what is too old to join.
	cut := 0
	for cut < len(j.recent) && (len(j.recent)-cut > maxJoinExchanges || now.Sub(j.recent[cut].End) > joinRetention) {
		cut++
	}
	if cut > 0 {
		j.recent = append([]*model.Exchange(nil), j.recent[cut:]...)
	}
}

func (j *joint) facts(ref string, now time.Time) *refFacts {
	f := j.refs[ref]
	if f == nil {
		if len(j.refs) >= maxTrackedRefs {
			j.forgetOldRefs(now)
		}
		f = &refFacts{}
		j.refs[ref] = f
	}
	f.seen = now
	return f
}

// forgetOldRefs drops the facts of sessions not seen for a while; if all are recent,
// it drops half, oldest first, so memory stays bounded under any traffic.
func (j *joint) forgetOldRefs(now time.Time) {
	for ref, f := range j.refs {
		if now.Sub(f.seen) > 10*joinRetention {
			delete(j.refs, ref)
		}
	}
	if len(j.refs) < maxTrackedRefs {
		return
	}
	n := 0
	for ref := range j.refs {
		delete(j.refs, ref)
		n++
		if n >= maxTrackedRefs/2 {
			return
		}
	}
}

// exchangeRefs are the sessions an exchange carried or set.
func exchangeRefs(x *model.Exchange) []string {
	var refs []string
	add := func(r string) {
		if r == "" {
			return
		}
		for _, have := range refs {
			if have == r {
				return
			}
		}
		refs = append(refs, r)
	}
	add(x.SessionRef)
	for _, c := range x.CookiesSent {
		add(c.SessionRef)
	}
	for _, sc := range x.SetCookies {
		add(sc.SessionRef)
	}
	return refs
}

// inFlight reports whether t falls while x was being served.
func inFlight(x *model.Exchange, t time.Time) bool {
	return !t.Before(x.Start.Add(-joinSlack)) && !t.After(exchangeEnd(x).Add(joinSlack))
}

// exchangeAt finds the exchange of session ref being served when t happened. The
// store change was made while the request was served and seen a moment later, so a
// request that started after t did not make it (its notification only looks close
// to it), and one whose span holds t wins over one that had already ended: at curl
// speed a browser's requests follow each other within the join slack. Among those
// that hold t, the one that started last; among those that ended before t, the one
// that ended last. Only when every candidate started after t (clock readings a little
// apart) does the earliest of those count.
func (j *joint) exchangeAt(ref string, t time.Time) *model.Exchange {
	f := j.refs[ref]
	if f == nil {
		return nil
	}
	var inside, ended, after *model.Exchange
	for _, x := range f.exchanges {
		if !inFlight(x, t) {
			continue
		}
		switch {
		case x.Start.After(t):
			if x.SessionRef == ref {
				// It reached the proxy after the write and already carried the id:
				// the browser had the session from an earlier response, whose request
				// made the write (a login still running after its redirect went out).
				continue
			}
			if after == nil || x.Start.Before(after.Start) {
				after = x
			}
		case !t.After(exchangeEnd(x)):
			if inside == nil || x.Start.After(inside.Start) {
				inside = x
			}
		default:
			if ended == nil || exchangeEnd(x).After(exchangeEnd(ended)) {
				ended = x
			}
		}
	}
	switch {
	case inside != nil:
		return inside
	case ended != nil:
		return ended
	}
	return after
}

// issuerAt is the latest exchange in flight at t (within the join's slack) whose
// Set-Cookie gave the browser ref, nil when none.
func (j *joint) issuerAt(ref string, t time.Time) *model.Exchange {
	f := j.refs[ref]
	if f == nil {
		return nil
	}
	var issuer *model.Exchange
	for _, x := range f.exchanges {
		if !inFlight(x, t) || (issuer != nil && !x.Start.After(issuer.Start)) {
			continue
		}
		for i := range x.SetCookies {
			if sc := &x.SetCookies[i]; sc.SessionRef == ref && !deletesCookie(sc, x.Start) {
				issuer = x
				break
			}
		}
	}
	return issuer
}

// exchangeEnd is when the exchange ended, or sent its headers when it has not ended.
func exchangeEnd(x *model.Exchange) time.Time {
	if x.End.IsZero() {
		return x.HeadersSent
	}
	return x.End
}

// defer schedules a decision.
func (j *joint) later(due time.Time, run func(now time.Time)) {
	j.pending = append(j.pending, deferred{due: due, run: run})
}

// runDue runs the decisions whose time has come.
func (j *joint) runDue(now time.Time) {
	keep := j.pending[:0]
	var due []deferred
	for _, d := range j.pending {
		if !d.due.After(now) {
			due = append(due, d)
		} else {
			keep = append(keep, d)
		}
	}
	j.pending = keep
	for _, d := range due {
		d.run(now)
	}
}

// deletesCookie reports whether a Set-Cookie line removes the cookie: Max-Age <= 0,
// an Expires in the past, or (as PHP's setcookie(name, ”) does) an empty value.
func deletesCookie(sc *model.SetCookie, at time.Time) bool {
	if sc.MaxAge != nil && *sc.MaxAge <= 0 {
		return true
	}
	if sc.Expires != nil && sc.Expires.Before(at) {
		return true
	}
	return sc.Value == "" && sc.Raw != "" && strings.HasPrefix(strings.TrimSpace(sc.Raw), sc.Name+"=;") ||
		sc.Value == "" && sc.Raw == sc.Name+"="
}

// cookieLifetime is how long the browser keeps a Set-Cookie: false for a session
// cookie (no Max-Age or Expires), which lives until the browser closes.
func cookieLifetime(sc *model.SetCookie, at time.Time) (time.Duration, bool) {
	if sc.MaxAge != nil {
		return time.Duration(*sc.MaxAge) * time.Second, true
	}
	if sc.Expires != nil {
		return sc.Expires.Sub(at), true
	}
	return 0, false
}

// isSessionSetCookie reports a Set-Cookie of a session cookie name.
func isSessionSetCookie(sc *model.SetCookie) bool {
	return sc.SessionRef != "" || framework.IsSessionCookieName(sc.Name, nil)
}

// differentNetwork reports whether two client addresses are on different networks:
// a different /16 for IPv4 or /48 for IPv6, as a roaming phone stays within its
// carrier's block. Two loopback addresses count as different when they differ, so the
// lab's second client on 127.0.0.2 plays a stranger.
func differentNetwork(a, b string) bool {
	pa, errA := parseAddr(a)
	pb, errB := parseAddr(b)
	if errA != nil || errB != nil {
		return a != b
	}
	if pa.Is4() != pb.Is4() {
		return true
	}
	if pa.IsLoopback() && pb.IsLoopback() {
		return pa != pb
	}
	bits := 16
	if !pa.Is4() {
		bits = 48
	}
	na, _ := pa.Prefix(bits)
	nb, _ := pb.Prefix(bits)
	return na != nb
}

func parseAddr(s string) (netip.Addr, error) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err
}

// strangerTo reports a client whose network and User-Agent both differ from the
// session's owner: the fingerprint change worth checking.
func strangerTo(owner, c model.Client) bool {
	return differentNetwork(owner.Addr, c.Addr) && owner.UA != c.UA
}
