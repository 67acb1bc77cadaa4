package diagnose

import (
	"fmt"
	"strings"
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

// nodeLocalBackend names the store whose nodes each keep their own sessions (one
// directory per server): the same id written on two of its nodes was born twice. On
// a Redis Cluster a key changes node by migration or failover and stays one session.
const nodeLocalBackend = "files"

// onEvent sees the store side: one session id written on a second server's store
// while the first still holds it. A server that does not know an id starts a session
// under it (PHP without strict mode) or the browser carried it there: either way the
// servers do not share sessions.
func (s sessionNotShared) onEvent(ev *model.Event, j *joint, r *Recorder) {
	if ev.Backend != nodeLocalBackend || ev.Node == "" || strings.Contains(ev.Node, ",") {
		return
	}
	switch ev.Kind {
	case model.KindCreated, model.KindUpdated, model.KindTouched:
	default:
		return
	}
	ref, at, node, seq := ev.Session.Ref, ev.Time, ev.Node, ev.Seq
	f := j.facts(ref, at)
	if f.node == "" || !f.ended.IsZero() && !f.ended.Before(f.nodeSince) {
		f.node, f.nodeSince = node, at
		return
	}
	if f.node == node {
		return
	}
	first := f.node
	j.later(at.Add(s.window+500*time.Millisecond), func(time.Time) {
		s.reportStores(ref, first, node, at, seq, j, r)
	})
}

// reportStores reports an id born on two servers' stores, and names it as the cause
// of what the request that wrote it on the second server answered.
func (sessionNotShared) reportStores(ref, first, second string, at time.Time, seq uint64, j *joint, r *Recorder) {
	x := j.exchangeAt(ref, at)
	cause, on := "store", ""
	if x != nil {
		cause, on = exchangeHost(x), fmt.Sprintf(" while serving %s (%s %s → %d%s)", x.ID, x.Method, x.URL, x.Status, locationSuffix(x))
	}
	detail := fmt.Sprintf("Session %s is in the store of %s and, since %s, also in the store of %s%s: the second server did not know the id and started "+
		"a session of its own under it (PHP does so unless session.use_strict_mode=1; with strict mode it hands out a new id instead). "+
		"The servers do not share sessions: whatever one server wrote, the other does not see, so a request that lands on the other server looks logged out — a login loop across servers. "+
		"Every server must see the same session state (OWASP Session Management Cheat Sheet: server-side session storage).",
		ref, first, at.UTC().Format("15:04:05.000"), second, on)
	rep := Report{Cause: cause, Severity: model.SeverityError, Title: "Servers do not share sessions",
		Detail: detail, Fix: sessionNotSharedFix, Session: ref, Event: seq,
		Evidence: fmt.Sprintf("session %s written on %s at %s after %s held it", ref, second, at.UTC().Format("15:04:05.000"), first), Time: at}
	if x != nil {
		rep.Exchange = x.ID
	}
	r.Report(rep)
	if x != nil {
		j.addCause(x, StoreCause{FindingID: findingID("session-not-shared", cause),
			Summary: fmt.Sprintf("session-not-shared (session %s lives in the stores of %s and of %s: the servers do not share sessions)", ref, first, second)})
	}
}

const sessionNotSharedFix = "Give every server one shared session store (or, second best, sticky sessions at the load balancer). " +
	"PHP: session.save_handler = redis and session.save_path = \"tcp://redis:6379\" on every server instead of local files; " +
	"session.use_strict_mode = 1 as well, so that a server never adopts an id it did not issue. " +
	"Node (express-session): session({ store: new RedisStore({ client }) }) with the same Redis for every instance, not the default MemoryStore."

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
	what, fresh := "", ""
	for _, sc := range x.SetCookies {
		if sc.SessionRef != "" && sc.SessionRef != ref && !deletesCookie(&sc, x.Start) {
			what = fmt.Sprintf("answered with a fresh session (%s=%s…)", sc.Name, sc.SessionRef[:4])
			fresh = sc.SessionRef
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
	if what == "" && f.issuedBy.Status >= 300 && f.issuedBy.Status < 400 && urlPath(f.issuedBy.Location) == urlPath(x.URL) && lostSession(x, ref) {
		// The login's redirect was followed to another server, which answered as if
		// the session were empty: PHP without strict mode adopts the unknown id as a
		// new, empty session, so no fresh cookie shows it.
		what = fmt.Sprintf("answered as if the session were empty (%d%s) right after %s logged it in", x.Status, locationSuffix(x), origin)
	}
	if what == "" {
		return
	}
	// Decided after stale-read has judged x (it waits a window and half a second): a
	// session whose write had not landed when x read it looks just as unknown.
	j.later(x.End.Add(s.window+1500*time.Millisecond), func(time.Time) {
		if !f.ended.IsZero() && inFlight(x, f.ended) {
			return // regenerated (or destroyed) while serving x: the server knew it
		}
		if fresh != "" && f.successor == fresh {
			// The store regenerated the session into the one x handed out: x's server
			// knew it, however late the store's notification came (a loaded machine
			// can date it after x ended).
			return
		}
		if j.explainedBy(x, "stale-read") {
			return // one store, a write that came late: not servers apart
		}
		s.report(x, f, ref, origin, what, j, r)
	})
}

// explainedBy reports whether a store cause of rule was recorded for x.
func (j *joint) explainedBy(x *model.Exchange, rule string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range j.causes[x.ID] {
		if strings.HasPrefix(c.FindingID, rule+"-") {
			return true
		}
	}
	return false
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
		Fix:     sessionNotSharedFix,
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

// sessionNotSharedHTTP is session-not-shared seen from the HTTP side alone (a HAR, no
// store): a session issued by one upstream, carried to another, which answered as if
// it did not know it — a fresh session, or, for the redirect the issuing response
// sent the browser on, a bounce. The HAR must say which upstream served each entry
// (serverIPAddress, or sessionscope's _upstream).
func sessionNotSharedHTTP(rs []*replayed, rec *Recorder, cited map[string][]citation) {
	issuer := map[string]*replayed{} // session ref -> the exchange that set it
	ended := map[string]bool{}
	for _, r := range rs {
		x := r.x
		ref := x.SessionRef
		if is := issuer[ref]; ref != "" && !ended[ref] && is != nil && x.Upstream != "" && is.x.Upstream != "" && is.x.Upstream != x.Upstream {
			what := ""
			// A login answers with a fresh session too (it regenerates the id): without
			// the store, only a page that is not a login says the session was unknown.
			for _, sc := range r.issued {
				if strings.EqualFold(x.Method, "POST") || loginPath.MatchString(r.u.Path) {
					break
				}
				if sc.SessionRef != "" && sc.SessionRef != ref {
					what = fmt.Sprintf("answered with a fresh session (%s=%s…)", sc.Name, sc.SessionRef[:min(4, len(sc.SessionRef))])
					break
				}
			}
			if what == "" && is.x.Status >= 300 && is.x.Status < 400 && is.x.RawLocation != "" && lostSessionHTTP(r) {
				if t, err := is.u.Parse(is.x.RawLocation); err == nil && t.EscapedPath() == r.u.EscapedPath() && strings.EqualFold(t.Host, r.u.Host) {
					what = fmt.Sprintf("answered as if the session were empty (%d%s) right after %s logged it in", x.Status, locationSuffix(x), is.x.Upstream)
				}
			}
			if what != "" {
				host := exchangeHost(x)
				rec.Report(Report{Cause: host, Severity: model.SeverityError, Title: "Servers do not share sessions",
					Detail: fmt.Sprintf("Session %s was issued by upstream %s (%s), but %s went to upstream %s, which %s: it does not know the session. "+
						"Without a shared store or sticky sessions, every request that lands on another server looks logged out — a login loop across servers. "+
						"Every server must see the same session state (OWASP Session Management Cheat Sheet: server-side session storage).",
						ref, is.x.Upstream, is.x.ID, x.ID, x.Upstream, what),
					Fix: sessionNotSharedFix, Session: ref, Exchange: x.ID,
					Evidence: sessionLine(x, fmt.Sprintf("carried session %s from %s to %s, which %s", ref, is.x.Upstream, x.Upstream, what)),
					Time:     x.Start})
				c := citation{id: findingID("session-not-shared", host), store: true,
					summary: fmt.Sprintf("session-not-shared (the session issued by %s was unknown to %s)", is.x.Upstream, x.Upstream)}
				if !hasCitation(cited[x.ID], c.id) {
					cited[x.ID] = append(cited[x.ID], c)
				}
			}
		}
		for _, sc := range x.SetCookies {
			if sc.SessionRef == "" {
				continue
			}
			if deletesCookie(&sc, x.Start) {
				ended[sc.SessionRef] = true
				continue
			}
			if issuer[sc.SessionRef] == nil {
				issuer[sc.SessionRef] = r
			}
		}
	}
}
