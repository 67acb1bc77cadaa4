package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// noServerExpiry reports session keys without a TTL: the server never ends them, so an
// abandoned or stolen id stays valid however old the cookie says it is.
// All such keys under one prefix are one finding.
type noServerExpiry struct{}

func newNoServerExpiry() noServerExpiry { return noServerExpiry{} }

func (noServerExpiry) ID() string { return "no-server-expiry" }

func (r noServerExpiry) OnEvent(ev *model.Event, rec *Recorder) {
	// Only a TTL read as -1 counts: under a burst the tracker can see a SETEX's set
	// without its expire, which looks like a key written without a TTL but is not one.
	if ev.Session == nil || ev.TTL == nil || *ev.TTL != -1 || !ev.TTLRead {
		return
	}
	switch ev.Kind {
	case model.KindCreated, model.KindUpdated, model.KindTouched, model.KindRegenerated:
		r.report(rec, *ev.Session, ev.Seq, ev.Time, fmt.Sprintf("seq %d %s: %s %s with no TTL", ev.Seq, ev.Time.Format("15:04:05.000"), ev.Kind, ev.Session.Ref))
	}
}

func (r noServerExpiry) OnInventory(f SessionFact, rec *Recorder) {
	if f.TTL != -1 {
		return
	}
	r.report(rec, f.Session, 0, f.Time, fmt.Sprintf("inventory: %s has no TTL", f.Session.Ref))
}

func (noServerExpiry) report(rec *Recorder, s model.SessionInfo, seq uint64, at time.Time, evidence string) {
	rec.Report(Report{
		Cause:    s.Framework + "\x00" + s.KeyPrefix,
		Severity: model.SeverityWarning,
		Title:    "Session keys that never expire",
		Detail: fmt.Sprintf("Session keys under %q (%s) have no TTL, so the store never ends them: an abandoned or stolen session id stays valid until something deletes it.",
			s.KeyPrefix, s.Framework),
		Fix: "Expire sessions on the server (OWASP Session Management Cheat Sheet: session expiration): write them with a TTL (phpredis uses SETEX with session.gc_maxlifetime; connect-redis: the ttl option) " +
			"and also end them after an idle and an absolute timeout in the app.",
		Session:  s.Ref,
		Event:    seq,
		Evidence: evidence,
		Time:     at,
	})
}

func (noServerExpiry) Tick(time.Time, *Recorder) {}
