package diagnose

import (
	"fmt"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// maxStaleLag bounds how late a write may land and still be blamed on a redirect
// whose headers went out before it.
const maxStaleLag = 10 * time.Second

// LateWriteSlack is how long after a response's headers went out a store write must
// land to count as written after the response. It is the slack with which the joint
// rules count a write as made while a request was served (joinSlack): sessionscope
// stamps a write when the store's notification reaches it, which can be a few
// milliseconds after the proxy passed the headers on, so a write made just before
// them may be stamped just after. One value for both means a write is never both in
// time and late.
const LateWriteSlack = joinSlack

// ResponseSentAt is when the browser had x's response headers (status, Location,
// Set-Cookie): what it acts on. A browser follows a redirect on its headers, so a
// request whose body is still streaming (a flushed redirect, work after the headers)
// is already being followed. End, then Start, stand in when the headers' time is
// unknown.
func ResponseSentAt(x *model.Exchange) time.Time {
	switch {
	case !x.HeadersSent.IsZero():
		return x.HeadersSent
	case !x.End.IsZero():
		return x.End
	}
	return x.Start
}

// WriteLag is how long after x's response headers went out a store write stamped at
// writeTime landed; negative when it landed before them.
func WriteLag(x *model.Exchange, writeTime time.Time) time.Duration {
	return writeTime.Sub(ResponseSentAt(x))
}

// WrittenAfterResponse reports whether a store write stamped at writeTime landed after
// x's response headers had gone out (ResponseSentAt) by more than LateWriteSlack: the
// browser may already be reading the session it needed. It is the one definition of a
// late write, for the stale-read rule and for the screens that mark late writes.
func WrittenAfterResponse(x *model.Exchange, writeTime time.Time) bool {
	return WriteLag(x, writeTime) > LateWriteSlack
}

// writtenInTime reports whether x was being served at writeTime and had not yet sent
// its headers: the write is x's own and every request after x sees it.
func writtenInTime(x *model.Exchange, writeTime time.Time) bool {
	return inFlight(x, writeTime) && !WrittenAfterResponse(x, writeTime)
}

// staleRead reports the redirect-before-write race: a response redirected the browser
// before the session write it depended on had landed in the store, and the next
// request read the session before that write. The dashboard then sees no login and
// sends the user back, sometimes — the loop is intermittent because it depends on
// store latency and on how long the request runs after its headers.
//
// The write is timed against when the redirect's headers went out, not when its
// request ended: a browser follows a redirect as soon as it has the headers. A write
// made before its own request's headers went out is in time, and is never blamed on
// an earlier request. The proxy hands an exchange over when it ends, so the decision
// waits a moment for the requests that were running when the write landed; one that
// runs longer still (a slow page that writes early, then works) is kept from blame
// by the second condition: a stale read needs a reader whose answer shows it did not
// find the session (sent away, refused, or handed a fresh one), and a slow page's
// earlier requests were served normally.
type staleRead struct{}

func (staleRead) ID() string { return "stale-read" }

func (staleRead) onExchange(*model.Exchange, *joint, *Recorder) {}

func (s staleRead) onEvent(ev *model.Event, j *joint, r *Recorder) {
	switch ev.Kind {
	case model.KindCreated, model.KindUpdated, model.KindRegenerated:
	default:
		return
	}
	ref, at, seq := ev.Session.Ref, ev.Time, ev.Seq
	if j.refs[ref] == nil {
		return
	}
	j.later(at.Add(j.window+500*time.Millisecond), func(time.Time) { s.decide(ref, at, seq, j, r) })
}

func (staleRead) decide(ref string, at time.Time, seq uint64, j *joint, r *Recorder) {
	f := j.refs[ref]
	if f == nil {
		return
	}
	// The redirect that owed the write: a login (by its path, or a POST) if there is
	// one, since that is the write a redirect depends on; else the latest redirect.
	var redirect, login *model.Exchange
	for _, x := range f.exchanges {
		if writtenInTime(x, at) {
			return // a request was being served and had not answered yet: the write is its own, in time
		}
		if x.Status < 300 || x.Status >= 400 || !WrittenAfterResponse(x, at) || WriteLag(x, at) >= maxStaleLag {
			continue
		}
		if redirect == nil || x.Start.After(redirect.Start) {
			redirect = x
		}
		if (strings.EqualFold(x.Method, "POST") || loginPath.MatchString(urlPath(x.URL))) && (login == nil || x.Start.After(login.Start)) {
			login = x
		}
	}
	if login != nil {
		redirect = login
	}
	if redirect == nil {
		return
	}
	// A reader read the session between the redirect's headers and the write, and its
	// answer shows it did not see the write: that is the stale read. A request that
	// was served normally read nothing it missed.
	var readers []*model.Exchange
	for _, x := range f.exchanges {
		if x != redirect && x.SessionRef == ref && x.Start.After(redirect.Start) && x.Start.Before(at) && lostSession(x, ref) {
			readers = append(readers, x)
		}
	}
	if len(readers) == 0 {
		return
	}
	lag := WriteLag(redirect, at)
	host := exchangeHost(redirect)
	var ids []string
	for _, x := range readers {
		ids = append(ids, x.ID)
	}
	running := "finished"
	if !redirect.End.IsZero() && !at.After(redirect.End.Add(LateWriteSlack)) {
		running = "kept running"
	}
	detail := fmt.Sprintf("%s answered %d → %s and its headers went out, but the session write it made landed in the store %s later (the request %s after sending the redirect). "+
		"The browser followed the redirect on the headers: %s read the session before that write, so it saw the old (or no) session — "+
		"no login, and the user is sent back to log in. Whether it happens depends on timing, so the loop is intermittent. "+
		"A session must be written before the response that depends on it is sent (OWASP Session Management Cheat Sheet).",
		redirect.ID, redirect.Status, redirect.Location, ms(lag), running, strings.Join(ids, ", "))
	r.Report(Report{Cause: host, Severity: model.SeverityError, Title: "Stale read: the redirect outran the session write",
		Detail: detail, Fix: staleReadFix, Session: ref, Exchange: redirect.ID, Event: seq,
		Evidence: sessionLine(redirect, fmt.Sprintf("headers sent at %s; the session write landed %s later",
			ResponseSentAt(redirect).UTC().Format("15:04:05.000"), ms(lag))), Time: at})
	for _, x := range readers {
		r.Report(Report{Cause: host, Severity: model.SeverityError, Title: "Stale read: the redirect outran the session write",
			Detail: detail, Fix: staleReadFix, Session: ref, Exchange: x.ID,
			Evidence: sessionLine(x, fmt.Sprintf("read session %s %s before the write landed", ref, ms(at.Sub(x.Start)))), Time: at})
	}
	cause := StoreCause{FindingID: findingID("stale-read", host),
		Summary: fmt.Sprintf("stale-read (the session write landed %s after the redirect's headers went out; the next request read the session before it)", ms(lag))}
	j.addCause(redirect, cause)
	for _, x := range readers {
		j.addCause(x, cause)
	}
}

const staleReadFix = "Commit the session before sending the redirect, and wait for the store to confirm; do no session work after the headers are flushed. " +
	"PHP: $_SESSION['user'] = $id; session_write_close(); header('Location: /dashboard'); exit; (with phpredis, session.save_handler = redis writes synchronously in session_write_close; " +
	"a flush() before the write sends the redirect early). " +
	"Node (express-session): req.session.save(err => { if (err) return next(err); res.redirect('/dashboard'); })."

// lostSession reports whether x's answer shows that the request did not find the
// session it carried (ref): it was refused (401, 403), sent to another page, or
// handed a fresh session.
func lostSession(x *model.Exchange, ref string) bool {
	if x.Status == 401 || x.Status == 403 {
		return true
	}
	if x.Status >= 300 && x.Status < 400 && x.Location != "" && urlPath(x.Location) != urlPath(x.URL) {
		return true
	}
	for i := range x.SetCookies {
		sc := &x.SetCookies[i]
		if sc.SessionRef != "" && sc.SessionRef != ref && !deletesCookie(sc, x.Start) {
			return true
		}
	}
	return false
}

// urlPath is the path of a masked URL.
func urlPath(u string) string {
	if i := indexAfterScheme(u); i >= 0 {
		u = u[i:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			u = u[j:]
		} else {
			return "/"
		}
	}
	if j := strings.IndexAny(u, "?#"); j >= 0 {
		u = u[:j]
	}
	return u
}

// staleReadHTTP is stale-read seen from the HTTP side alone (a HAR, no store): a
// redirect whose headers went out while its request kept running, followed by the
// browser before that request ended, and the followed request answered as if there
// were no session. The write itself is not visible, but a request still running after
// its redirect is where a late session write happens (a flush before the write, work
// after the headers), and the next request's answer shows it did not see the login.
func staleReadHTTP(rs []*replayed, rec *Recorder, cited map[string][]citation) {
	for i, r := range rs {
		x := r.x
		if !r.nav || x.Status < 300 || x.Status >= 400 || x.RawLocation == "" || x.HeadersSent.IsZero() || x.End.Sub(x.HeadersSent) <= LateWriteSlack {
			continue
		}
		target, err := r.u.Parse(x.RawLocation)
		if err != nil {
			continue
		}
		var next *replayed
		for _, n := range rs[i+1:] {
			if n.nav {
				next = n
				break
			}
		}
		if next == nil || !strings.EqualFold(next.u.Host, target.Host) || next.u.EscapedPath() != target.EscapedPath() ||
			!next.x.Start.Before(x.End.Add(-LateWriteSlack)) || !lostSessionHTTP(next) {
			continue
		}
		host := exchangeHost(x)
		early := x.End.Sub(next.x.Start)
		detail := fmt.Sprintf("%s answered %d → %s and its headers went out, but the request kept running %s longer. "+
			"The browser followed the redirect on the headers: %s started %s before %s ended and was answered as if there were no session (%d%s). "+
			"A session written after the redirect was sent — after a flush, or by work done after the headers — is read by the next request before it lands: "+
			"no login, and the user is sent back to log in. The HAR shows the timing only; watch the store (sessionscope watch) to see the write itself. "+
			"A session must be written before the response that depends on it is sent (OWASP Session Management Cheat Sheet).",
			x.ID, x.Status, x.Location, ms(x.End.Sub(x.HeadersSent)), next.x.ID, ms(early), x.ID, next.x.Status, locationSuffix(next.x))
		rec.Report(Report{Cause: host, Severity: model.SeverityError, Title: "Stale read: the redirect outran the session write",
			Detail: detail, Fix: staleReadFix, Session: x.SessionRef, Exchange: x.ID,
			Evidence: sessionLine(x, fmt.Sprintf("headers sent at %s; the request ended %s later", x.HeadersSent.UTC().Format("15:04:05.000"), ms(x.End.Sub(x.HeadersSent)))),
			Time:     x.Start})
		rec.Report(Report{Cause: host, Severity: model.SeverityError, Title: "Stale read: the redirect outran the session write",
			Detail: detail, Fix: staleReadFix, Session: next.x.SessionRef, Exchange: next.x.ID,
			Evidence: sessionLine(next.x, fmt.Sprintf("started %s before %s ended, and found no session", ms(early), x.ID)), Time: next.x.Start})
		c := citation{id: findingID("stale-read", host), store: true,
			summary: fmt.Sprintf("stale-read (the redirect was followed while its request was still running, %s before it ended; the next request found no session)", ms(early))}
		for _, id := range []string{x.ID, next.x.ID} {
			if !hasCitation(cited[id], c.id) {
				cited[id] = append(cited[id], c)
			}
		}
	}
}

// lostSessionHTTP is lostSession for a replayed exchange: the jar's verdicts tell a
// fresh session the browser took.
func lostSessionHTTP(r *replayed) bool {
	x := r.x
	if x.Status == 401 || x.Status == 403 {
		return true
	}
	if x.Status >= 300 && x.Status < 400 && x.RawLocation != "" {
		if t, err := r.u.Parse(x.RawLocation); err == nil && (t.EscapedPath() != r.u.EscapedPath() || !strings.EqualFold(t.Host, r.u.Host)) {
			return true
		}
	}
	for _, sc := range r.issued {
		if sc.Value != "" && (sc.SessionRef == "" || sc.SessionRef != x.SessionRef) {
			return true
		}
	}
	return false
}

func hasCitation(cs []citation, id string) bool {
	for _, c := range cs {
		if c.id == id {
			return true
		}
	}
	return false
}
