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
type fixation struct {
	settle     time.Duration
	candidates map[string]*model.Event // by session ref
}

func newFixation(window time.Duration) *fixation {
	return &fixation{settle: 3*window + 2*time.Second, candidates: map[string]*model.Event{}}
}

func (r *fixation) ID() string { return "fixation" }

func (r *fixation) OnEvent(ev *model.Event, _ *Recorder) {
	if ev.Session == nil {
		return
	}
	switch ev.Kind {
	case model.KindUpdated:
		if ev.AuthAdded {
			r.candidates[ev.Session.Ref] = ev
		}
	case model.KindRegenerated:
		if ev.From != nil {
			delete(r.candidates, ev.From.Ref)
		}
	case model.KindDestroyed, model.KindExpired, model.KindEvicted:
		// The session ended before the settle time: the marker write still happened
		// on a fixed id, so keep the candidate.
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
		rec.Report(Report{
			Cause:    ev.Session.Framework + "\x00" + ev.Session.KeyPrefix,
			Severity: model.SeverityError,
			Title:    "Login without a new session id (session fixation)",
			Detail: fmt.Sprintf("Session %s (%s) gained authentication data (%s) at %s and kept its id. "+
				"Whoever knew that id before the login — for example an attacker who planted it through a link or a cookie — is now logged in as the user.",
				ref, ev.Session.Framework, strings.Join(ev.Changed, ", "), ev.Time.Format("15:04:05.000")),
			Fix: "Give the session a new id whenever privileges change, and delete the old one (OWASP: renew the session id after any privilege level change). " +
				"PHP: session_regenerate_id(true) right after the password check. " +
				"express: req.session.regenerate(cb) before setting the user. Laravel: $request->session()->regenerate(). Django: use login(), which cycles the key.",
			Session:  ref,
			Event:    ev.Seq,
			Evidence: fmt.Sprintf("seq %d %s: %s updated, changed %s, same key", ev.Seq, ev.Time.Format("15:04:05.000"), ref, strings.Join(ev.Changed, ",")),
			Time:     now,
		})
	}
}
