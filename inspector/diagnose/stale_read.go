package diagnose

import (
	"fmt"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// maxStaleLag bounds how late a write may land and still be blamed on a redirect
// that finished before it.
const maxStaleLag = 10 * time.Second

// LateWriteSlack is how long after a response finished a store write must land to
// count as written after it. It is the slack with which the joint rules count a
// write as made while a request was served (joinSlack): sessionscope stamps a write
// when the store's notification reaches it, which can be a few milliseconds after the
// proxy saw the response end, so a write made in time may be stamped just after it.
// One value for both means a write is never both in flight and late.
const LateWriteSlack = joinSlack

// WrittenAfterResponse reports whether a store write stamped at writeTime landed after
// x's response had finished (its End; HeadersSent or Start when that is unknown) by
// more than LateWriteSlack: the browser may already have read the session it needed.
func WrittenAfterResponse(x *model.Exchange, writeTime time.Time) bool {
	done := x.End
	if done.IsZero() {
		done = x.HeadersSent
	}
	if done.IsZero() {
		done = x.Start
	}
	return writeTime.Sub(done) > LateWriteSlack
}

// staleRead reports the redirect-before-write race: a response redirected the browser before
// the session write it depended on had landed in the store, and the next request read
// the session before that write. The dashboard then sees no login and sends the user
// back, sometimes — the loop is intermittent because it depends on store latency.
type staleRead struct{}

func (staleRead) ID() string { return "stale-read" }

func (staleRead) onExchange(*model.Exchange, *joint, *Recorder) {}

func (staleRead) onEvent(ev *model.Event, j *joint, r *Recorder) {
	switch ev.Kind {
	case model.KindCreated, model.KindUpdated, model.KindRegenerated:
	default:
		return
	}
	ref, at := ev.Session.Ref, ev.Time
	f := j.refs[ref]
	if f == nil {
		return
	}
	// The redirect that owed the write: a login (by its path, or a POST) if there is
	// one, since that is the write a redirect depends on; else the latest redirect.
	var redirect, login *model.Exchange
	for _, x := range f.exchanges {
		if inFlight(x, at) {
			return // a request was being served: the write is its own, in time
		}
		if x.Status < 300 || x.Status >= 400 || !WrittenAfterResponse(x, at) || at.Sub(x.End) >= maxStaleLag {
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
	var readers []*model.Exchange
	for _, x := range f.exchanges {
		if x != redirect && x.SessionRef == ref && x.Start.After(redirect.Start) && x.Start.Before(at) {
			readers = append(readers, x)
		}
	}
	if len(readers) == 0 {
		return
	}
	lag := at.Sub(redirect.End)
	host := exchangeHost(redirect)
	var ids []string
	for _, x := range readers {
		ids = append(ids, x.ID)
	}
	detail := fmt.Sprintf("%s answered %d → %s and finished, but the session write it made landed in the store %s later. "+
		"Meanwhile the browser followed the redirect: %s read the session before that write, so it saw the old (or no) session — "+
		"typically no login, and the user is sent back to log in. Whether it happens depends on store latency, so the loop is intermittent.",
		redirect.ID, redirect.Status, redirect.Location, ms(lag), strings.Join(ids, ", "))
	fix := "Commit the session before sending the redirect, and wait for the store to confirm. " +
		"PHP: $_SESSION['user'] = $id; session_write_close(); header('Location: /dashboard'); exit; (with phpredis, session.save_handler = redis writes synchronously in session_write_close). " +
		"Node (express-session): req.session.save(err => { if (err) return next(err); res.redirect('/dashboard'); })."
	r.Report(Report{Cause: host, Severity: model.SeverityError, Title: "Stale read: the redirect outran the session write",
		Detail: detail, Fix: fix, Session: ref, Exchange: redirect.ID, Event: ev.Seq,
		Evidence: sessionLine(redirect, fmt.Sprintf("response finished at %s; the session write landed %s later",
			redirect.End.UTC().Format("15:04:05.000"), ms(lag))), Time: at})
	for _, x := range readers {
		r.Report(Report{Cause: host, Severity: model.SeverityError, Title: "Stale read: the redirect outran the session write",
			Detail: detail, Fix: fix, Session: ref, Exchange: x.ID,
			Evidence: sessionLine(x, fmt.Sprintf("read session %s %s before the write landed", ref, ms(at.Sub(x.Start)))), Time: at})
	}
	cause := StoreCause{FindingID: findingID("stale-read", host),
		Summary: fmt.Sprintf("stale-read (the session write landed %s after the redirect; the next request read it before)", ms(lag))}
	j.addCause(redirect, cause)
	for _, x := range readers {
		j.addCause(x, cause)
	}
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
