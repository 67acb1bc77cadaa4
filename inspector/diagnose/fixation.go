package diagnose

import (
	"fmt"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// fixation reports a login that kept the session id: an authentication marker appeared
// in a session's payload while its key stayed the same. Whoever knew the id before the
// login (an attacker who planted it) is now logged in too.
//
// A marker write can be the first half of a regeneration that keeps the old key
// (phpredis regenerate(false) writes the old key, then the new one), so a candidate
// waits until that regeneration would have been seen.
//
// The tracker marks a write that adds a marker to a payload it read before
// (AuthAdded). Two logins escape that mark, and the rule remembers what it needs to see
// them: a login that follows the session's creation within the correlation window,
// whose first write was not read before the login overwrote it (a form posted by
// autofill or an e2e test at once after the GET), and a marker that was there but held
// no identity until the login (user => [theme], then user => [id, theme]).
type fixation struct {
	settle     time.Duration
	candidates map[string]*model.Event // by session ref
	// anonymous holds the sessions last seen without authentication (or created and
	// not read), so that the write that authenticates them is a login on the same id.
	anonymous map[string]anonymousSession
	lastSweep time.Time
}

// anonymousSession is what the rule remembers of a session not yet logged in.
type anonymousSession struct {
	since time.Time
	// read: its payload was read and held no identity. When false the session was
	// created and its first write was not read; it may have been born logged in, so
	// only a write on a later request than the creating one counts as a login on it.
	read     bool
	exchange string // the exchange that created it, when the proxy saw it
}

const (
	// maxAnonymous bounds the sessions the rule remembers whatever the traffic.
	maxAnonymous = 50000
	// anonymousHorizon is how long a session stays remembered without a write: a login
	// long after the last anonymous write is still caught when it adds the marker.
	anonymousHorizon = 30 * time.Minute
)

func newFixation(window time.Duration) *fixation {
	return &fixation{settle: 3*window + 2*time.Second, candidates: map[string]*model.Event{},
		anonymous: map[string]anonymousSession{}}
}

func (r *fixation) ID() string { return "fixation" }

func (r *fixation) OnEvent(ev *model.Event, _ *Recorder) {
	if ev.Session == nil {
		return
	}
	ref := ev.Session.Ref
	read := ev.PayloadUnread == ""
	switch ev.Kind {
	case model.KindCreated:
		if !ev.Authenticated || !read {
			r.remember(ref, anonymousSession{since: ev.Time, read: read && !ev.Authenticated, exchange: ev.Exchange})
		}
	case model.KindRegenerated:
		if ev.From != nil {
			delete(r.candidates, ev.From.Ref)
			delete(r.anonymous, ev.From.Ref)
		}
		if read && !ev.Authenticated {
			r.remember(ref, anonymousSession{since: ev.Time, read: true, exchange: ev.Exchange})
		}
	case model.KindUpdated:
		if ev.AuthAdded {
			delete(r.anonymous, ref)
			r.candidates[ref] = ev
			return
		}
		if !read {
			return // the write's content is unknown: neither a login nor a logout seen
		}
		if !ev.Authenticated {
			r.remember(ref, anonymousSession{since: ev.Time, read: true, exchange: ev.Exchange})
			return
		}
		was, known := r.anonymous[ref]
		delete(r.anonymous, ref)
		if known && (was.read || ev.Exchange != "" && ev.Exchange != was.exchange) {
			r.candidates[ref] = ev
		}
	case model.KindDestroyed, model.KindExpired, model.KindEvicted:
		// The session ended before the settle time: the marker write still happened
		// on a fixed id, so keep the candidate.
		delete(r.anonymous, ref)
	}
}

// remember notes a session not logged in, forgetting old ones when the table is full.
func (r *fixation) remember(ref string, s anonymousSession) {
	if _, ok := r.anonymous[ref]; !ok && len(r.anonymous) >= maxAnonymous {
		r.forgetAnonymous(s.since)
	}
	r.anonymous[ref] = s
}

// forgetAnonymous drops the sessions past the horizon; if all are recent it drops half,
// so memory stays bounded under any traffic (a login on a forgotten session is then
// caught only when the tracker saw the marker appear).
func (r *fixation) forgetAnonymous(now time.Time) {
	for ref, s := range r.anonymous {
		if now.Sub(s.since) > anonymousHorizon {
			delete(r.anonymous, ref)
		}
	}
	if len(r.anonymous) < maxAnonymous {
		return
	}
	n := 0
	for ref := range r.anonymous {
		delete(r.anonymous, ref)
		if n++; n >= maxAnonymous/2 {
			return
		}
	}
}

func (r *fixation) OnInventory(SessionFact, *Recorder) {}

// pending counts the logins waiting to see whether a regeneration follows.
func (r *fixation) pending() int { return len(r.candidates) }

func (r *fixation) Tick(now time.Time, rec *Recorder) {
	for ref, ev := range r.candidates {
		if now.Sub(ev.Time) < r.settle {
			continue
		}
		delete(r.candidates, ref)
		what, changed := "authentication data", "updated, same key"
		if len(ev.Changed) > 0 {
			what = fmt.Sprintf("authentication data (%s)", strings.Join(ev.Changed, ", "))
			changed = "updated, changed " + strings.Join(ev.Changed, ",") + ", same key"
		}
		rec.Report(Report{
			Cause:    ev.Session.Framework + "\x00" + ev.Session.KeyPrefix,
			Severity: model.SeverityError,
			Title:    "Login without a new session id (session fixation)",
			Detail: fmt.Sprintf("Session %s (%s) gained %s at %s and kept its id. "+
				"Whoever knew that id before the login — for example an attacker who planted it through a link or a cookie — is now logged in as the user.",
				ref, ev.Session.Framework, what, ev.Time.Format("15:04:05.000")),
			Fix:      fixationFix,
			Session:  ref,
			Event:    ev.Seq,
			Evidence: fmt.Sprintf("seq %d %s: %s %s", ev.Seq, ev.Time.Format("15:04:05.000"), ref, changed),
			// The login's time, not the decision's: a stopping watch decides with a
			// clock moved ahead to flush what waits, and the finding is about the write.
			Time: ev.Time,
		})
	}
	if now.Sub(r.lastSweep) > time.Minute {
		r.lastSweep = now
		r.forgetAnonymous(now)
	}
}

// fixationFix is how to fix a login that keeps its session id, whichever side saw it.
const fixationFix = "Give the session a new id whenever privileges change, and delete the old one (OWASP: renew the session id after any privilege level change; ASVS V3.2.1). " +
	"PHP: session_regenerate_id(true) right after the password check. " +
	"express: req.session.regenerate(cb) before setting the user. Laravel: $request->session()->regenerate(). Django: use login(), which cycles the key."
