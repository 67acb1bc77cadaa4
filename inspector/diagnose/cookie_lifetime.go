package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// cookieLifetimeRule compares a session cookie's lifetime with the store's TTL for
// the session it names, at the write that went with the Set-Cookie.
//   - cookie-outlives-session: the browser keeps the cookie after the store dropped
//     the session, so the user is logged out while the cookie says otherwise.
//   - session-outlives-cookie: the store keeps the session after the browser forgot
//     the cookie; the server must end sessions, a cookie expiry does not,
//     and a copied id stays valid until the store lets go.
type cookieLifetimeRule struct{}

func (cookieLifetimeRule) ID() string { return "cookie-outlives-session" }

func (cookieLifetimeRule) onExchange(*model.Exchange, *joint, *Recorder) {}

// lifetimeMargin ignores small differences: clocks, rounding, a sliding TTL refreshed
// a moment apart from the cookie.
const lifetimeMargin = time.Minute

func (cookieLifetimeRule) onEvent(ev *model.Event, j *joint, r *Recorder) {
	switch ev.Kind {
	case model.KindCreated, model.KindUpdated, model.KindTouched, model.KindRegenerated:
	default:
		return
	}
	if ev.Exchange == "" || ev.TTL == nil || *ev.TTL <= 0 {
		return // no TTL at all is no-server-expiry's business
	}
	ref := ev.Session.Ref
	x := j.findExchange(ref, ev.Exchange)
	if x == nil {
		return
	}
	var sc *model.SetCookie
	for i := range x.SetCookies {
		if x.SetCookies[i].SessionRef == ref && !deletesCookie(&x.SetCookies[i], x.Start) {
			sc = &x.SetCookies[i]
		}
	}
	if sc == nil {
		return
	}
	life, persistent := cookieLifetime(sc, x.Start)
	if !persistent {
		return // a browser-session cookie: it ends with the browser, nothing to compare
	}
	ttl := time.Duration(*ev.TTL) * time.Second
	host := exchangeHost(x)
	cause := host + "\x00" + sc.Name
	evidence := sessionLine(x, fmt.Sprintf("%s lives %s in the browser; session %s has a store TTL of %s",
		sc.Name, life.Round(time.Second), ref, ttl))
	switch {
	case life > ttl+lifetimeMargin && life > ttl*3/2:
		r.Report(Report{
			Cause: cause, Severity: model.SeverityWarning,
			Title: "The session cookie outlives the session",
			Detail: fmt.Sprintf("%s is kept by the browser for %s, but the store drops the session after %s. "+
				"After that the browser still sends a cookie for a session that no longer exists: the user is silently logged out, "+
				"and the app must treat the unknown id as a new visitor (and never adopt it).", sc.Name, life.Round(time.Second), ttl),
			Fix: "Make the cookie's lifetime match the server's session lifetime, or use a browser-session cookie. " +
				"PHP: session.cookie_lifetime = 0 (or equal to session.gc_maxlifetime) in php.ini. " +
				"Node (express-session): one cookie.maxAge, which connect-redis also uses as the key's TTL — do not set the store's ttl separately.",
			Session: ref, Exchange: x.ID, Event: ev.Seq, Evidence: evidence, Time: ev.Time,
		})
	case ttl > life+lifetimeMargin && ttl > life*3/2:
		r.rec("session-outlives-cookie").Report(Report{
			Cause: cause, Severity: model.SeverityWarning,
			Title: "The session outlives its cookie",
			Detail: fmt.Sprintf("The browser forgets %s after %s, but the store keeps the session for %s. "+
				"The session stays valid on the server long after the user's browser let go of it: a copied id keeps working. "+
				"Expire sessions on the server, and do not rely on the cookie's expiry (OWASP Session Management Cheat Sheet: session expiration).", sc.Name, life.Round(time.Second), ttl),
			Fix: "Give the server-side session the shorter lifetime. " +
				"PHP: session.gc_maxlifetime no longer than session.cookie_lifetime (phpredis uses gc_maxlifetime as the key's TTL), and check an idle timeout in the session itself. " +
				"Node (express-session): let connect-redis take the TTL from cookie.maxAge (do not pass a longer ttl), and use rolling: true for an idle timeout.",
			Session: ref, Exchange: x.ID, Event: ev.Seq, Evidence: evidence, Time: ev.Time,
		})
	}
}
