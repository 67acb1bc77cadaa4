package inspector

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Past is what the history knows of a session's life that the tracker does not: a
// session the inventory found again after a restart (or after a resync) enters the
// tracker's table with no birth and no lineage, but the history recorded them when
// they happened.
type Past struct {
	// Born is the time of its birth: the created event, or the regenerated event that
	// made it. Zero when the history holds no birth of its current life.
	Born     time.Time
	BornKind model.Kind // created or regenerated
	BornSeq  uint64     // the birth event's seq, in the run that recorded it
	From     string     // the session it was regenerated from
	Evidence string     // how that regeneration was recognised: http, rename, payload, timing
	To       string     // the session it was regenerated to while its own key was kept
	// EndedAt is when the history saw this life end (destroyed, expired, evicted,
	// regenerated away), with no birth after it. For a session the store still holds
	// (SessionPast), it means the key found since is a later life, born while
	// sessionscope was not watching: only EndedAt and EndedKind are set then.
	EndedAt   time.Time
	EndedKind model.Kind
}

// pastKinds are the events that tell a life's birth, lineage and end.
var pastKinds = []model.Kind{model.KindCreated, model.KindRegenerated, model.KindDestroyed, model.KindExpired, model.KindEvicted}

// maxPastRefs bounds one SessionPast call: a page of sessions, not the whole table.
const maxPastRefs = 1000

// SessionPast tells, for each of refs that the history knows, its birth, its lineage
// and whether its last recorded life ended. It is meant for one page of sessions found
// by the inventory: one history query for all of them (their birth, regeneration and
// end events, by the refs' index), joined with the ring, which the history writer may
// not have caught up with. Refs the history does not know are absent from the map.
// Without a history it reads the ring alone and returns no error.
func (in *Inspector) SessionPast(ctx context.Context, refs []string) (map[string]Past, error) {
	refs = compactRefs(refs)
	if len(refs) == 0 {
		return map[string]Past{}, nil
	}
	if len(refs) > maxPastRefs {
		return nil, fmt.Errorf("session past: %d refs asked at once, at most %d: ask for one page of sessions", len(refs), maxPastRefs)
	}
	events := in.Events(EventQuery{Sessions: refs, Kinds: pastKinds})
	if in.cfg.History != nil {
		kinds := make([]string, len(pastKinds))
		for i, k := range pastKinds {
			kinds[i] = string(k)
		}
		objs, err := in.cfg.History.Query(ctx, history.Query{Refs: refs, Types: []string{model.TypeEvent}, Kinds: kinds,
			Limit: history.MaxLimit, Newest: true})
		if err != nil {
			return nil, fmt.Errorf("session past of %d sessions: %w", len(refs), err)
		}
		events = joinRing(eventsOf(objs), events)
	}
	past := foldPast(refs, events)
	for ref, p := range past {
		if !p.EndedAt.IsZero() {
			// The store holds a later life than the one recorded: none of its birth
			// or lineage is known, only that it began after that end.
			past[ref] = Past{EndedAt: p.EndedAt, EndedKind: p.EndedKind}
		}
	}
	return past, nil
}

// PastOf is the past of one session told by its events, oldest first (its timeline,
// when the page has it already): its last life, and that life's end when it ended.
func PastOf(ref string, events []*model.Event) (Past, bool) {
	p, ok := foldPast([]string{ref}, events)[ref]
	return p, ok
}

// foldPast walks events oldest first: each birth starts a life, a later end closes it.
// What is left for a ref is its current life, or the end of its last.
func foldPast(refs []string, events []*model.Event) map[string]Past {
	want := make(map[string]bool, len(refs))
	for _, r := range refs {
		want[r] = true
	}
	out := map[string]Past{}
	ended := func(ref string, k model.Kind, at time.Time) {
		p := out[ref]
		p.EndedAt, p.EndedKind = at, k
		out[ref] = p
	}
	for _, e := range events {
		switch e.Kind {
		case model.KindCreated, model.KindRegenerated:
			if e.Session != nil && want[e.Session.Ref] {
				p := Past{Born: e.Time, BornKind: e.Kind, BornSeq: e.Seq} // a new life
				if e.Kind == model.KindRegenerated && e.From != nil {
					p.From, p.Evidence = e.From.Ref, e.Evidence
				}
				out[e.Session.Ref] = p
			}
			if e.Kind == model.KindRegenerated && e.From != nil && want[e.From.Ref] {
				if !e.OldKept {
					ended(e.From.Ref, e.Kind, e.Time)
				} else if e.Session != nil {
					p := out[e.From.Ref]
					p.To = e.Session.Ref
					out[e.From.Ref] = p
				}
			}
		case model.KindDestroyed, model.KindExpired, model.KindEvicted:
			if e.Session != nil && want[e.Session.Ref] {
				ended(e.Session.Ref, e.Kind, e.Time)
			}
		}
	}
	return out
}

// eventsOf are the events among objs.
func eventsOf(objs []model.Object) []*model.Event {
	out := make([]*model.Event, 0, len(objs))
	for _, o := range objs {
		if e, ok := o.(*model.Event); ok {
			out = append(out, e)
		}
	}
	return out
}

// joinRing adds to the history's events those of the ring it has not written yet, oldest
// first. Seqs restart with each run, so an event is known by its seq and its time.
func joinRing(past, ring []*model.Event) []*model.Event {
	type key struct {
		seq  uint64
		nano int64
	}
	seen := make(map[key]bool, len(past))
	out := make([]*model.Event, 0, len(past)+len(ring))
	for _, e := range past {
		seen[key{e.Seq, e.Time.UnixNano()}] = true
		out = append(out, e)
	}
	for _, e := range ring {
		if !seen[key{e.Seq, e.Time.UnixNano()}] {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *model.Event) int { return a.Time.Compare(b.Time) })
	return out
}

// compactRefs drops empty and repeated refs, keeping the first order.
func compactRefs(refs []string) []string {
	seen := make(map[string]bool, len(refs))
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// maxGaps bounds the gaps one span shows: the newest, should a history hold thousands.
const maxGaps = 200

// Gaps are the gap events that began between from and to (zero to: now), oldest first:
// the history's (sessionscope not running, its writer paused or overflowing, earlier
// runs' store disconnects) joined with the ring's. A session's timeline shows those of
// its life, where events of it may be missing.
func (in *Inspector) Gaps(ctx context.Context, from, to time.Time) ([]*model.Event, error) {
	if from.IsZero() {
		return nil, fmt.Errorf("gaps: from is required")
	}
	q := EventQuery{From: from, To: to, Kinds: []model.Kind{model.KindGap}}
	ring := in.Events(q)
	if in.cfg.History == nil {
		return ring, nil
	}
	objs, err := in.cfg.History.Query(ctx, history.Query{From: from, To: to, Types: []string{model.TypeEvent},
		Kinds: []string{string(model.KindGap)}, Limit: maxGaps, Newest: true})
	if err != nil {
		return ring, fmt.Errorf("gaps since %s: %w", from.Format(time.RFC3339), err)
	}
	return joinRing(eventsOf(objs), ring), nil
}
