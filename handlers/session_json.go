package handlers

import (
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// SessionJSON is a tracked session in API responses. Times are RFC 3339; a null
// means unknown (sessions found by the inventory have no known birth).
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
}

// SessionDetailJSON is one session with its payload tree, events and findings.
type SessionDetailJSON struct {
	SessionJSON
	Payload       *payloadJSON    `json:"payload"`                  // null when not read
	PayloadUnread string          `json:"payload_unread,omitempty"` // why there is no payload
	Events        []*model.Event  `json:"events"`                   // this session's events still in the ring, oldest first
	Findings      []model.Finding `json:"findings"`                 // findings citing this session
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
