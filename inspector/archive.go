package inspector

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionscope/sessionscope/inspector/export"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// ErrNoHistory is returned by History when this inspector records no history
// (--no-history, or the file could not be opened).
var ErrNoHistory = errors.New("history is off: sessionscope runs with --no-history or could not open its history file")

// archive hands every published event, exchange and finding to the durable sinks.
// It is the one place where they are called, so each sees exactly what the live
// stream saw. Status objects are not archived: they describe the process, not the
// store, and the next run reports its own.
type archive struct {
	history *history.Store   // nil: none
	export  *export.Exporter // nil: none
}

func (a archive) record(o model.Object) {
	switch o.(type) {
	case *model.Event, *model.Exchange, *model.Finding:
	default:
		return
	}
	if a.history != nil {
		a.history.Append(o) // never blocks: a full queue becomes a history gap
	}
	if a.export != nil {
		a.export.Append(o) // never blocks: a full queue counts drops
	}
}

// archivingPublisher sits between the tracker and the counting publisher: what the
// tracker publishes reaches the live stream first, then the archive, with its seq.
type archivingPublisher struct {
	next    tracker.Publisher
	archive archive
}

func (p archivingPublisher) Publish(o model.Object) {
	p.next.Publish(o)
	p.archive.record(o)
}

// History queries the history file: objects older than the ring holds, and those of
// previous runs. The error is ErrNoHistory when none is recorded.
func (in *Inspector) History(ctx context.Context, q history.Query) ([]model.Object, error) {
	if in.cfg.History == nil {
		return nil, ErrNoHistory
	}
	return in.cfg.History.Query(ctx, q)
}

// HistoryPage is History with the row of each object, to page on exactly.
func (in *Inspector) HistoryPage(ctx context.Context, q history.Query) (history.Page, error) {
	if in.cfg.History == nil {
		return history.Page{}, ErrNoHistory
	}
	return in.cfg.History.QueryPage(ctx, q)
}

// HistoryStats are the history's counters; ok is false when none is recorded.
func (in *Inspector) HistoryStats() (st history.Stats, ok bool) {
	if in.cfg.History == nil {
		return history.Stats{}, false
	}
	return in.cfg.History.Stats(), true
}

// MaxTimelineEvents bounds the history events SessionTimeline reads for one session:
// enough for any session a person reads, while one touched on every request for
// weeks cannot make a page read millions of rows.
const MaxTimelineEvents = 20_000

// SessionEvents is a session's whole timeline, oldest first: its events in the
// history (earlier runs included, however old) joined with those still in the ring,
// which the history may not have written yet. Without history it is the ring's.
// SessionTimeline says, besides, whether the history held more than it read.
func (in *Inspector) SessionEvents(ctx context.Context, ref string) []*model.Event {
	events, _, _ := in.SessionTimeline(ctx, ref)
	return events
}

// SessionTimeline is SessionEvents with what a page needs to be honest about it.
// truncated is true when the history holds more than MaxTimelineEvents events of the
// session: the events are then its first MaxTimelineEvents in the history (its
// birth and early life) and the newest, still in the ring, with a hole between. err
// is a failed history read; the events are then what was read before it and the
// ring's, so that the page still shows something and can say what is missing.
func (in *Inspector) SessionTimeline(ctx context.Context, ref string) (events []*model.Event, truncated bool, err error) {
	return in.sessionTimeline(ctx, ref, MaxTimelineEvents)
}

// sessionTimeline is SessionTimeline reading at most bound events from the history.
func (in *Inspector) sessionTimeline(ctx context.Context, ref string, bound int) (events []*model.Event, truncated bool, err error) {
	ring := in.Events(EventQuery{Sessions: []string{ref}})
	if in.cfg.History == nil {
		return ring, false, nil
	}
	// Paged on by row: a page boundary among events of one time neither repeats nor
	// loses one. The history's order is the order written, not time: sorted below.
	q := history.Query{Ref: ref, Types: []string{model.TypeEvent}, Limit: history.MaxLimit}
	var past []*model.Event
	for len(past) <= bound { // one more than the bound tells it was cut
		q.Limit = min(history.MaxLimit, bound+1-len(past))
		p, qerr := in.cfg.History.QueryPage(ctx, q)
		if qerr != nil {
			err = fmt.Errorf("session %s: timeline from the history: %w", ref, qerr)
			break
		}
		for _, o := range p.Objects {
			if e, ok := o.(*model.Event); ok {
				past = append(past, e)
			}
		}
		if len(p.Rows) < q.Limit {
			break
		}
		q.AfterRow = p.Rows[len(p.Rows)-1]
	}
	if len(past) > bound {
		past, truncated = past[:bound], true
	}
	if len(past) == 0 {
		return ring, false, err
	}
	return joinRing(past, ring), truncated, err
}
