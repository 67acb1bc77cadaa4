package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// SessionJSON is a tracked session in API responses. Times are RFC 3339; a null
// means unknown (a session found by the inventory has the birth the history recorded,
// if any).
type SessionJSON struct {
	Type          string     `json:"type"` // always "session"
	Ref           string     `json:"ref"`
	ID            string     `json:"id"` // masked unless --reveal-ids
	Framework     string     `json:"framework"`
	KeyPrefix     string     `json:"key_prefix"`
	Format        string     `json:"format"`     // "" until the payload was read
	TTL           *int64     `json:"ttl_s"`      // remaining seconds; -1: no TTL; null: unknown
	ExpiresAt     *time.Time `json:"expires_at"` // null without TTL or when unknown
	Size          int        `json:"size"`       // bytes
	Born          *time.Time `json:"born"`       // null when unknown
	LastActivity  *time.Time `json:"last_activity"`
	Authenticated bool       `json:"authenticated"`  // an auth marker is in the payload
	From          *string    `json:"from"`           // ref of the session it was regenerated from
	To            *string    `json:"to"`             // ref of the session it was regenerated to (old key kept)
	Inventory     bool       `json:"inventory"`      // found by the inventory scan, not seen being created
	Node          string     `json:"node,omitempty"` // the store node holding it (a cluster master)
	// MetaUnread: listed by the inventory's first phase, TTL and size not read yet
	// (ttl_s is null and size 0 until its second phase reads them).
	MetaUnread bool `json:"ttl_size_unread,omitempty"`
	// FromEvidence is how the regeneration from From was recognised (http, rename,
	// payload, timing), when known.
	FromEvidence string `json:"from_evidence,omitempty"`
}

// SessionDetailJSON is one session with its payload tree, events and findings.
type SessionDetailJSON struct {
	SessionJSON
	Payload       *payloadJSON `json:"payload"`                  // null when not read
	PayloadUnread string       `json:"payload_unread,omitempty"` // why there is no payload
	// Events are its timeline as its page shows it, oldest first: its events in the
	// history and the ring, and the gaps that began during its life.
	Events   []*model.Event  `json:"events"`
	Findings []model.Finding `json:"findings"` // findings citing this session
	// Ended is how a session no longer in the store ended; absent while it lives.
	Ended *EndedJSON `json:"ended,omitempty"`
	// Moved is where a slot migration carried a session that this process does not
	// follow any more (--nodes): it did not end. Absent otherwise.
	Moved *MovedJSON `json:"moved,omitempty"`
}

// MovedJSON is the master a session's key moved to, and when.
type MovedJSON struct {
	Node string    `json:"node"`
	Time time.Time `json:"time"`
}

// EndedJSON is how a session ended, as far as sessionscope knows.
type EndedJSON struct {
	Kind model.Kind `json:"kind"` // destroyed, expired, evicted, or regenerated (moved to a new id)
	Time time.Time  `json:"time"`
	To   *string    `json:"to,omitempty"` // regenerated: the session it became
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func optRef(ref string) *string {
	if ref == "" {
		return nil
	}
	return &ref
}

func sessionJSON(r tracker.SessionRow, now time.Time) SessionJSON {
	s := SessionJSON{Type: "session", Ref: r.Ref, ID: r.ID, Framework: r.Framework, KeyPrefix: r.KeyPrefix,
		Format: r.Format, Size: r.Size, Born: optTime(r.Born), LastActivity: optTime(r.LastActivity),
		Authenticated: r.Authenticated, From: optRef(r.FromRef), To: optRef(r.ToRef), Inventory: r.Inventory,
		Node: r.Node, MetaUnread: r.MetaUnread}
	switch {
	case r.NoTTL:
		n := int64(-1)
		s.TTL = &n
	case !r.ExpiresAt.IsZero():
		n := int64(max(r.ExpiresAt.Sub(now).Round(time.Second), 0) / time.Second)
		s.TTL = &n
		s.ExpiresAt = optTime(r.ExpiresAt)
	}
	return s
}

// sessionEvents returns the events of one session still in the ring, oldest first:
// those about it and the regeneration that moved it to a successor.
func sessionEvents(src Source, ref string) []*model.Event {
	return src.Events(inspector.EventQuery{Sessions: []string{ref}})
}

// sessionFindings returns the findings that cite ref.
func sessionFindings(src Source, ref string) []model.Finding {
	var out []model.Finding
	for _, f := range src.Findings() {
		for _, s := range f.Sessions {
			if s == ref {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// sessionsJSON are the API objects of a page of sessions; those found by the inventory
// get the birth and lineage the history recorded, in one history query for the page.
func (h *Handlers) sessionsJSON(ctx context.Context, rows []tracker.SessionRow, now time.Time) []SessionJSON {
	var refs []string
	for _, r := range rows {
		if r.Inventory && r.Born.IsZero() {
			refs = append(refs, r.Ref)
		}
	}
	past := h.sessionPast(ctx, refs)
	out := make([]SessionJSON, 0, len(rows))
	for _, r := range rows {
		p, ok := past[r.Ref]
		if !ok {
			out = append(out, sessionJSON(r, now))
			continue
		}
		s := sessionJSON(withPast(r, p), now)
		s.FromEvidence = p.Evidence
		out = append(out, s)
	}
	return out
}

// withPast is a row of a session found by the inventory, completed with the birth
// and lineage the history recorded before this run found it.
func withPast(r tracker.SessionRow, p inspector.Past) tracker.SessionRow {
	if r.Born.IsZero() {
		r.Born = p.Born
	}
	if r.FromRef == "" {
		r.FromRef = p.From
	}
	if r.ToRef == "" {
		r.ToRef = p.To
	}
	return r
}

// sessionDetail is the API's object for ref: a tracked session (its birth and lineage
// from the history when this run found it by its inventory), or one that ended, from
// its last known facts and its timeline, as its page shows it. The error wraps
// tracker.ErrNotFound when nothing is known of ref.
func (h *Handlers) sessionDetail(c echo.Context, ref string) (SessionDetailJSON, error) {
	ctx := c.Request().Context()
	d, err := h.d.Src.Session(ref)
	if errors.Is(err, tracker.ErrNotFound) {
		return h.endedDetail(c, ref)
	}
	if err != nil {
		return SessionDetailJSON{}, fmt.Errorf("session %s: %w", ref, err)
	}
	row := d.Row
	events, _ := h.sessionTimeline(c, ref)
	var evidence string
	if row.Inventory {
		if p, ok := h.sessionPast(ctx, []string{ref})[ref]; ok {
			row, evidence = withPast(row, p), p.Evidence
		}
	}
	if p, ok := inspector.PastOf(ref, events); ok && evidence == "" && p.From != "" && p.From == row.FromRef {
		evidence = p.Evidence
	}
	resp := SessionDetailJSON{SessionJSON: sessionJSON(row, h.d.Now()), Payload: buildPayload(d.Payload, h.d.RevealValues, h.d.Redact),
		Events: withGaps(events, h.lifeGaps(ctx, events, ref, row.Born, time.Time{})), Findings: sessionFindings(h.d.Src, ref)}
	resp.FromEvidence = evidence
	if resp.Payload == nil {
		for i := len(resp.Events) - 1; i >= 0 && resp.PayloadUnread == ""; i-- {
			resp.PayloadUnread = resp.Events[i].PayloadUnread
		}
		if resp.PayloadUnread == "" {
			resp.PayloadUnread = "not-read"
		}
	}
	return resp.nonNil(), nil
}

// endedDetail is the API's object for a session no longer in the store: its last
// facts the tracker remembers and what its timeline tells, as endedSession shows them.
func (h *Handlers) endedDetail(c echo.Context, ref string) (SessionDetailJSON, error) {
	events, _ := h.sessionTimeline(c, ref)
	facts, ferr := h.endedFacts(ref)
	known := ferr == nil
	if len(events) == 0 && !known {
		return SessionDetailJSON{}, fmt.Errorf("session %s: %w", ref, tracker.ErrNotFound)
	}
	st := endedOf(ref, events, facts, known)
	row := facts.Row
	if !known {
		row = tracker.SessionRow{Ref: ref}
		if st.info != nil {
			row.ID, row.Framework, row.KeyPrefix = st.info.ID, st.info.Framework, st.info.KeyPrefix
		}
	}
	row.Ref, row.ExpiresAt, row.NoTTL, row.MetaUnread = ref, time.Time{}, false, false
	if st.from != "" {
		row.FromRef = st.from
	}
	if st.to != "" {
		row.ToRef = st.to
	}
	past, _ := inspector.PastOf(ref, events)
	if row.Born.IsZero() {
		row.Born = past.Born
	}
	resp := SessionDetailJSON{SessionJSON: sessionJSON(row, h.d.Now()), PayloadUnread: model.UnreadGone,
		Events: withGaps(events, h.lifeGaps(c.Request().Context(), events, ref, time.Time{}, st.lastEvent)), Findings: sessionFindings(h.d.Src, ref)}
	if past.From != "" && past.From == row.FromRef {
		resp.FromEvidence = past.Evidence
	}
	if st.kind != "" {
		resp.Ended = &EndedJSON{Kind: st.kind, Time: st.at.UTC(), To: optRef(st.movedTo)}
	}
	if st.handedTo != "" {
		// Not read here, and not gone: the payload is on the master it moved to.
		resp.Moved, resp.PayloadUnread = &MovedJSON{Node: st.handedTo, Time: st.at.UTC()}, ""
	}
	return resp.nonNil(), nil
}

// nonNil makes empty lists [] rather than null, as the contract has them.
func (d SessionDetailJSON) nonNil() SessionDetailJSON {
	if d.Events == nil {
		d.Events = []*model.Event{}
	}
	if d.Findings == nil {
		d.Findings = []model.Finding{}
	}
	return d
}
