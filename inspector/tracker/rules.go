package tracker

import (
	"time"

	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Rules is what the tracker asks of the diagnosis rules (diagnose.Engine): they see
// every emitted event and the inventory, tie events to exchanges, and hand back the
// findings to publish. Every method but Drain and Published is called on the
// tracker's goroutine only.
type Rules interface {
	// SetLookup lets the rules ask the session table whether a session exists.
	SetLookup(diagnose.SessionLookup)
	// Annotate ties an event to the HTTP exchange that caused it, before it is published.
	Annotate(ev *model.Event)
	// OnEvent feeds an emitted event to the rules.
	OnEvent(ev *model.Event)
	// OnInventory feeds a page of existing sessions to the rules.
	OnInventory(facts ...diagnose.SessionFact)
	// Tick lets the rules make the decisions that waited until now.
	Tick(now time.Time)
	// Pending is the number of decisions the rules still owe; zero when settled.
	Pending() int
	// SameExchange reports whether a deletion and a birth happened while serving one
	// HTTP exchange; known is false when the exchanges seen cannot tell.
	SameExchange(oldRef string, oldAt time.Time, newRef string, newAt time.Time) (same, known bool)
	// Drain returns the findings created or updated since the last Drain.
	Drain() []*model.Finding
	// Published records the seq a finding went out with.
	Published(id string, seq uint64)
}
