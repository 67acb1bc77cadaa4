package inspector

import (
	"context"

	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// ReadPayload returns one tracked session with its payload, reading it from the store
// once when none was read yet (a session found by the inventory). The read is budgeted
// like every payload read: without wait a spent budget is an error wrapping
// tracker.ErrBudgetSpent; with wait it waits a moment for the budget first. A session
// that is not tracked is an error wrapping tracker.ErrNotFound.
func (in *Inspector) ReadPayload(ctx context.Context, ref string, wait bool) (tracker.SessionDetail, error) {
	return in.tracker.ReadPayload(ctx, ref, wait)
}

// EndedSession returns what was last known of a session that ended (destroyed,
// expired, evicted, regenerated away); the error wraps tracker.ErrNotFound when none is
// remembered.
func (in *Inspector) EndedSession(ref string) (tracker.EndedSession, error) {
	return in.tracker.EndedSession(ref)
}
