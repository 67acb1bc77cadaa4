package diagnose

import (
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// oldSessionKept reports regenerations that leave the old key alive with the same
// data (phpredis session_regenerate_id(false)): the old id stays a valid credential.
type oldSessionKept struct{}

func (oldSessionKept) ID() string { return "old-session-kept" }

func (oldSessionKept) OnEvent(ev *model.Event, rec *Recorder) {
	if ev.Kind != model.KindRegenerated || !ev.OldKept || ev.From == nil || ev.Session == nil {
		return
	}
	rec.Report(Report{
		Cause:    ev.Session.Framework + "\x00" + ev.Session.KeyPrefix,
		Severity: model.SeverityWarning,
		Title:    "Regeneration kept the old session alive",
		Detail: fmt.Sprintf("Session %s was regenerated to %s, but the old key still exists with the same data. "+
			"Anyone holding the old id — including whoever planted it — keeps the new privileges until it expires.",
			ev.From.Ref, ev.Session.Ref),
		Fix:      "Delete the old session when regenerating (OWASP: renew the session id and invalidate the old one). PHP: session_regenerate_id(true) — the true removes the old session from the store.",
		Session:  ev.Session.Ref,
		Event:    ev.Seq,
		Evidence: fmt.Sprintf("seq %d %s: regenerated %s -> %s, old_kept", ev.Seq, ev.Time.Format("15:04:05.000"), ev.From.Ref, ev.Session.Ref),
		Time:     ev.Time,
	})
}

func (oldSessionKept) OnInventory(SessionFact, *Recorder) {}
func (oldSessionKept) Tick(time.Time, *Recorder)          {}
