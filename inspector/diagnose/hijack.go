package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// hijackRule reports a session used by a stranger: a request carrying the session
// from a different network (/16) and a different User-Agent than the client that
// first held it. Such a change is unlikely for the genuine user, so the
// app should destroy the session and make the user log in again. When the app did
// (the session was deleted while serving that request, `destroyed` with
// `cause: hijack-suspect`) the finding is hijack-suspect; when it carried on serving
// the stranger, it is hijack-ignored.
type hijackRule struct {
	window  time.Duration
	handled map[string]uint64 // exchange id -> seq of the destroyed event it caused
}

func newHijackRule(window time.Duration) *hijackRule {
	return &hijackRule{window: window, handled: map[string]uint64{}}
}

func (*hijackRule) ID() string { return "hijack-suspect" }

func (h *hijackRule) onEvent(ev *model.Event, j *joint, r *Recorder) {
	if ev.Kind == model.KindDestroyed && ev.Cause == model.CauseHijackSuspect && ev.Exchange != "" {
		if len(h.handled) > maxJoinExchanges {
			clear(h.handled)
		}
		h.handled[ev.Exchange] = ev.Seq
	}
}

func (h *hijackRule) onExchange(x *model.Exchange, j *joint, r *Recorder) {
	ref := x.SessionRef
	if ref == "" {
		return
	}
	f := j.refs[ref]
	if f == nil || !f.hasOwner || !strangerTo(f.owner, x.Client) {
		return
	}
	owner := f.owner
	// The store's answer (a deletion, or nothing) reaches the rules a correlation
	// window after it happened: decide once it surely has.
	j.later(x.End.Add(h.window+500*time.Millisecond), func(time.Time) {
		seq, destroyed := h.handled[x.ID]
		delete(h.handled, x.ID)
		used := fmt.Sprintf("session %s first used by %s (%s), then by %s (%s)",
			ref, owner.Addr, shortUA(owner.UA), x.Client.Addr, shortUA(x.Client.UA))
		if destroyed {
			r.Report(Report{
				Cause:    exchangeHost(x),
				Severity: model.SeverityWarning,
				Title:    "Suspected session hijack: the app destroyed the session",
				Detail: fmt.Sprintf("A request (%s) carried a session from a different network and a different browser than the one that started it; "+
					"the app deleted the session while serving it, the right response to a session whose client suddenly changed. Someone else may hold the user's cookie: find out how it leaked.", x.ID),
				Fix: "Nothing to fix in the session handling: the check worked. Make the user log in again, log the event for an administrator, " +
					"and look for the leak (an XSS that reads document.cookie, an id in a URL, a shared computer).",
				Session: ref, Exchange: x.ID, Event: seq,
				Evidence: sessionLine(x, used+"; destroyed by the app"),
				Time:     x.Start,
			})
			return
		}
		if x.Status >= 400 || f.ended.After(x.Start.Add(-joinSlack)) {
			return // refused, or the session ended some other way: not served to the stranger
		}
		if j.lookup != nil {
			if _, alive := j.lookup(ref); !alive {
				return
			}
		}
		r.rec("hijack-ignored").Report(Report{
			Cause:    exchangeHost(x),
			Severity: model.SeverityError,
			Title:    "Suspected session hijack ignored: the app served a stranger",
			Detail: fmt.Sprintf("A request (%s) carried a session from a different network and a different browser than the one that started it, "+
				"and the app answered %d and kept the session. If the cookie was stolen, the attacker is now logged in as the user. "+
				"When both the IP block and the User-Agent change, destroy the session and ask the user to log in again: the genuine user rarely changes both at once.", x.ID, x.Status),
			Fix: "Remember the client's fingerprint at login and check it on every request. " +
				"PHP: at login $_SESSION['_ip16'] = implode('.', array_slice(explode('.', $_SERVER['REMOTE_ADDR']), 0, 2)); $_SESSION['_ua'] = $_SERVER['HTTP_USER_AGENT']; " +
				"on each request, if both differ: session_unset(); session_destroy(); and redirect to the login page. " +
				"Node (express-session): store req.ip's /16 and req.get('user-agent') in req.session at login; if both differ later, req.session.destroy(() => res.redirect('/login')).",
			Session: ref, Exchange: x.ID,
			Evidence: sessionLine(x, used+"; the session was kept"),
			Time:     x.Start,
		})
	})
}

// shortUA keeps the product part of a User-Agent for evidence lines.
func shortUA(ua string) string {
	if ua == "" {
		return "no User-Agent"
	}
	if len(ua) > 40 {
		return ua[:40] + "…"
	}
	return ua
}
