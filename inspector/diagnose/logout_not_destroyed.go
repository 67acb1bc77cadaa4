package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// logoutNotDestroyed reports a logout that only cleared the cookie: the response
// expired the session cookie, but the store still holds the session. The principle:
// anyone who kept a copy of the id (a stolen cookie, a shared computer's history)
// is still logged in until the store expires it.
type logoutNotDestroyed struct{ window time.Duration }

func (logoutNotDestroyed) ID() string { return "logout-not-destroyed" }

func (logoutNotDestroyed) onEvent(*model.Event, *joint, *Recorder) {}

func (l logoutNotDestroyed) onExchange(x *model.Exchange, j *joint, r *Recorder) {
	if x.SessionRef == "" || j.lookup == nil {
		return
	}
	var cleared *model.SetCookie
	for _, c := range x.CookiesSent {
		if c.SessionRef != x.SessionRef {
			continue
		}
		for i := range x.SetCookies {
			if sc := &x.SetCookies[i]; sc.Name == c.Name && deletesCookie(sc, x.Start) {
				cleared = sc
			}
		}
	}
	if cleared == nil {
		return
	}
	ref := x.SessionRef
	j.later(x.End.Add(l.window+500*time.Millisecond), func(time.Time) {
		if f := j.refs[ref]; f != nil && !f.ended.IsZero() && f.ended.After(x.Start.Add(-joinSlack)) {
			return // destroyed (or regenerated away) as it should be
		}
		live, alive := j.lookup(ref)
		if !alive {
			return
		}
		left := "until the store's TTL runs out"
		if live.TTL < 0 {
			left = "forever: the key has no TTL"
		} else if live.TTL > 0 {
			left = fmt.Sprintf("for another %s (its TTL)", live.TTL.Round(time.Second))
		}
		r.Report(Report{
			Cause:    exchangeHost(x) + "\x00" + cleared.Name,
			Severity: model.SeverityWarning,
			Title:    "Logout cleared the cookie but left the session in the store",
			Detail: fmt.Sprintf("The response to %s expired the %s cookie, but the session it named is still in the store and will stay usable %s. "+
				"Whoever kept a copy of the id (a stolen cookie, a proxy log) is still logged in: destroy the session on the server at logout (OWASP Session Management Cheat Sheet: manual session expiration).",
				x.ID, cleared.Name, left),
			Fix: "Destroy the session server-side, then clear the cookie. PHP: $_SESSION = []; session_destroy(); setcookie(session_name(), '', 1, '/'); " +
				"Node (express-session): req.session.destroy(() => { res.clearCookie('connect.sid'); res.redirect('/'); }).",
			Session: ref, Exchange: x.ID,
			Evidence: sessionLine(x, cleared.Name+" cleared; session "+ref+" still in the store"),
			Time:     x.Start,
		})
	})
}
