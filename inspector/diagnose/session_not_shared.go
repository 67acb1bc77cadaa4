package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// sessionNotShared reports the load-balancer failure: a session born
// on one upstream is unknown to another. The request carried the cookie that
// upstream A issued, round-robin sent it to upstream B, and B — with its own local
// store — handed out a fresh session or bounced the user to the login page.
//
// A fresh session is also what a server that does know the session hands out when it
// regenerates it at login: so the decision waits until the store's
// events for the request have arrived, and a session the request itself ended was
// known, not unknown.
type sessionNotShared struct{ window time.Duration }

func (sessionNotShared) ID() string { return "session-not-shared" }

func (sessionNotShared) onEvent(*model.Event, *joint, *Recorder) {}

func (s sessionNotShared) onExchange(x *model.Exchange, j *joint, r *Recorder) {
	ref := x.SessionRef
	if ref == "" || x.Upstream == "" {
		return
	}
	f := j.refs[ref]
	if f == nil || f.issuedBy == nil || f.issuedBy.Upstream == "" || f.issuedBy.Upstream == x.Upstream {
		return
	}
	if !f.ended.IsZero() && f.ended.Before(x.Start) {
		return // the session was legitimately ended: a new one is expected
	}
	origin := f.issuedBy.Upstream
	what := ""
	for _, sc := range x.SetCookies {
		if sc.SessionRef != "" && sc.SessionRef != ref && !deletesCookie(&sc, x.Start) {
			what = fmt.Sprintf("answered with a fresh session (%s=%s…)", sc.Name, sc.SessionRef[:4])
			break
		}
	}
	if what == "" && (x.Status == 401 || bouncedToLogin(x) || x.Status >= 300 && x.Status < 400) {
		// A bounce alone may be a logout or a permission check: count it only when the
		// same page worked with this session on its own upstream.
		for _, y := range f.exchanges {
			if y != x && y.Upstream == origin && y.SessionRef == ref && y.Status >= 200 && y.Status < 300 && samePage(x, y) {
				what = fmt.Sprintf("sent the browser away (%d → %s) where %s had served the page", x.Status, x.Location, origin)
				break
			}
		}
	}
	if what == "" {
		return
	}
	j.later(x.End.Add(s.window+500*time.Millisecond), func(time.Time) {
		if !f.ended.IsZero() && inFlight(x, f.ended) {
			return // regenerated (or destroyed) while serving x: the server knew it
		}
		s.report(x, f, ref, origin, what, j, r)
	})
}

func (sessionNotShared) report(x *model.Exchange, f *refFacts, ref, origin, what string, j *joint, r *Recorder) {
	host := exchangeHost(x)
	r.Report(Report{
		Cause:    host,
		Severity: model.SeverityError,
		Title:    "Servers do not share sessions",
		Detail: fmt.Sprintf("Session %s was issued by upstream %s (%s), but %s went to upstream %s, which %s: it does not know the session. "+
			"Without a shared store or sticky sessions, every request that lands on another server looks logged out — a login loop across servers.",
			ref, origin, f.issuedBy.ID, x.ID, x.Upstream, what),
		Fix: "Give every server one shared session store (or, second best, sticky sessions at the load balancer). " +
			"PHP: session.save_handler = redis and session.save_path = \"tcp://redis:6379\" on every server instead of local files. " +
			"Node (express-session): session({ store: new RedisStore({ client }) }) with the same Redis for every instance, not the default MemoryStore.",
		Session: ref, Exchange: x.ID,
		Evidence: sessionLine(x, fmt.Sprintf("carried session %s from %s to %s, which %s", ref, origin, x.Upstream, what)),
		Time:     x.Start,
	})
	j.addCause(x, StoreCause{FindingID: findingID("session-not-shared", host),
		Summary: fmt.Sprintf("session-not-shared (the session issued by %s was unknown to %s)", origin, x.Upstream)})
}

// bouncedToLogin reports a response that sends the browser to a login page or
// refuses it for want of a session.
func bouncedToLogin(x *model.Exchange) bool {
	if x.Status == 401 {
		return true
	}
	return x.Status >= 300 && x.Status < 400 && loginPath.MatchString(x.Location)
}

// samePage compares two exchanges' method and masked URL without the query.
func samePage(a, b *model.Exchange) bool {
	cut := func(u string) string {
		for i := 0; i < len(u); i++ {
			if u[i] == '?' || u[i] == '#' {
				return u[:i]
			}
		}
		return u
	}
	return a.Method == b.Method && cut(a.URL) == cut(b.URL)
}
