package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// cookieMissing reports a session the store created while serving a request whose
// response carried no Set-Cookie for it: the browser never learns the id, so its next
// request arrives without a session and the user is logged out again. In PHP this is
// "headers already sent": output before session_start() (a BOM, whitespace, an echo)
// commits the headers, and PHP can no longer add the session cookie.
type cookieMissing struct{}

func (cookieMissing) ID() string { return "cookie-missing" }

func (cookieMissing) onExchange(*model.Exchange, *joint, *Recorder) {}

func (c cookieMissing) onEvent(ev *model.Event, j *joint, r *Recorder) {
	if ev.Kind != model.KindCreated && ev.Kind != model.KindRegenerated {
		return
	}
	if len(j.recent) == 0 && len(j.fresh) == 0 {
		return // no proxied traffic: nothing to hold the store against
	}
	ref, at, seq := ev.Session.Ref, ev.Time, ev.Seq
	// Give requests still being served at that moment time to finish and arrive.
	j.later(time.Now().Add(time.Second), func(time.Time) {
		var serving []*model.Exchange
		for _, x := range j.recent {
			if !inFlight(x, at) || x.Upgraded || x.Error != "" {
				continue
			}
			for _, sc := range x.SetCookies {
				if sc.SessionRef == ref || sc.SessionRef == "" && isSessionSetCookie(&sc) {
					return // the cookie went out (or an unreadable one did: Laravel's is encrypted)
				}
			}
			serving = append(serving, x)
		}
		// Only an unambiguous pairing is evidence: with several requests in flight the
		// session may belong to traffic that did not pass through the proxy.
		if len(serving) != 1 {
			return
		}
		x := serving[0]
		if x.SessionRef == ref {
			return // the browser sent this id: the server adopted it, no cookie needed
		}
		r.Report(Report{
			Cause:    exchangeHost(x),
			Severity: model.SeverityError,
			Title:    "Session created but its cookie never sent",
			Detail: fmt.Sprintf("While serving %s %s the app wrote a new session to the store, but the response (%d) carried no Set-Cookie for it. "+
				"The browser never learns the id: its next request comes without a session, the app starts yet another one, and the user is logged out again. "+
				"In PHP this is \"headers already sent\": output before session_start() commits the headers, so the session cookie cannot be added.",
				x.Method, x.URL, x.Status),
			Fix: "Start the session before any output. PHP: call session_start() first thing, remove whitespace or a BOM before <?php in every included file, " +
				"and check headers_sent($file, $line) to find the culprit (or enable output_buffering). " +
				"Node: register the session middleware before any route, and do not call res.flushHeaders() or res.writeHead() before the session is set.",
			Session: ref, Exchange: x.ID, Event: seq,
			Evidence: sessionLine(x, "store created session "+ref+" at "+at.UTC().Format("15:04:05.000")+"; no Set-Cookie for it"),
			Time:     at,
		})
		j.addCause(x, StoreCause{FindingID: findingID("cookie-missing", exchangeHost(x)),
			Summary: "cookie-missing (the session was created but no Set-Cookie was sent)"})
	})
}
