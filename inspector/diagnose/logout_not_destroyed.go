package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// logoutNotDestroyed reports a logout that only cleared the cookie (or tried to: an
// expiry whose Domain or Path misses the cookie the browser holds clears nothing),
// while the store still holds the session. The principle:
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
	// The replay's jar found no cookie the expiry matched: it named another Domain or
	// Path than the cookie the browser holds, which therefore stays.
	missed := cleared.Stored != nil && !*cleared.Stored && cleared.Reason == ""
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
		title := "Logout cleared the cookie but left the session in the store"
		what := fmt.Sprintf("The response to %s expired the %s cookie, but", x.ID, cleared.Name)
		evidence := cleared.Name + " cleared; session " + ref + " still in the store"
		if missed {
			title = "Logout neither cleared the cookie nor destroyed the session"
			what = fmt.Sprintf("The response to %s tried to expire the %s cookie with a Set-Cookie for %s, but the browser holds %s under another Domain or Path and kept it (a cookie is known by its name, Domain and Path; see cookie-not-cleared), so the user is still logged in; and",
				x.ID, cleared.Name, setCookieAttrs(*cleared), cleared.Name)
			evidence = "Set-Cookie " + cleared.Name + " (" + setCookieAttrs(*cleared) + ") cleared nothing; session " + ref + " still in the store"
		}
		r.Report(Report{
			Cause:    exchangeHost(x) + "\x00" + cleared.Name,
			Severity: model.SeverityWarning,
			Title:    title,
			Detail: fmt.Sprintf("%s the session it named is still in the store and will stay usable %s. "+
				"Whoever kept a copy of the id (a stolen cookie, a proxy log) is still logged in: destroy the session on the server at logout (OWASP Session Management Cheat Sheet: manual session expiration).",
				what, left),
			Fix: "Destroy the session server-side, then clear the cookie with the Domain and Path it was set with (an expiry with other attributes names another cookie and clears nothing). " +
				"PHP: $_SESSION = []; $p = session_get_cookie_params(); session_destroy(); setcookie(session_name(), '', ['expires' => 1, 'path' => $p['path'], 'domain' => $p['domain'], 'secure' => $p['secure'], 'httponly' => $p['httponly'], 'samesite' => $p['samesite']]); " +
				"Node (express-session): req.session.destroy(() => { res.clearCookie('connect.sid', { domain: <the cookie's domain>, path: '/' }); res.redirect('/'); }).",
			Session: ref, Exchange: x.ID,
			Evidence: sessionLine(x, evidence),
			Time:     x.Start,
		})
	})
}
