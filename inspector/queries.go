package inspector

import (
	"net"
	"slices"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// ExchangeQuery selects exchanges from the log or from a HAR import. Every filter that
// is set must hold.
type ExchangeQuery struct {
	// SessionRef keeps exchanges that carried, set or held back a cookie of this session.
	SessionRef string
	// Client keeps one connection's exchanges exactly: address with its port, and User-Agent.
	Client *model.Client
	// ClientHost keeps one client address's exchanges whatever the port, since a browser
	// opens many connections (see ClientHost).
	ClientHost string
	// UA keeps the exchanges of this User-Agent, compared exactly.
	UA string
	// Status keeps one status class: 2xx, 3xx, 4xx, 5xx or failed (see StatusClass).
	Status string
	// IDs keeps only these exchanges.
	IDs []string
	// BeforeSeq pages backwards: only exchanges with a smaller seq. 0: from the newest.
	BeforeSeq uint64
	// Limit is the most returned, the newest of the matches. Default 200.
	Limit int
}

// Match reports whether x passes every filter of q; Limit is for the caller to apply.
func (q ExchangeQuery) Match(x *model.Exchange) bool {
	switch {
	case q.BeforeSeq != 0 && x.Seq >= q.BeforeSeq,
		len(q.IDs) > 0 && !slices.Contains(q.IDs, x.ID),
		q.Client != nil && x.Client != *q.Client,
		q.ClientHost != "" && ClientHost(x.Client.Addr) != q.ClientHost,
		q.UA != "" && x.Client.UA != q.UA,
		q.Status != "" && StatusClass(x) != q.Status,
		q.SessionRef != "" && !slices.Contains(x.SessionRefs(), q.SessionRef):
		return false
	}
	return true
}

// newestMatches walks n exchanges newest first (at(0) is the newest) and returns the
// newest q.Limit matches, newest first, as kept: the caller clones them once it has
// released whatever lock at needed.
func newestMatches(q ExchangeQuery, n int, at func(i int) *model.Exchange) []*model.Exchange {
	if q.Limit <= 0 {
		q.Limit = 200
	}
	var picked []*model.Exchange
	for i := 0; i < n && len(picked) < q.Limit; i++ {
		if x := at(i); q.Match(x) {
			picked = append(picked, x)
		}
	}
	return picked
}

// oldestFirstClones reverses picked (newest first) into clones, oldest first, so callers
// can never modify what is kept.
func oldestFirstClones(picked []*model.Exchange) []*model.Exchange {
	out := make([]*model.Exchange, len(picked))
	for i, x := range picked {
		out[len(picked)-1-i] = x.Clone()
	}
	return out
}

// StatusClass names an exchange's status class: 2xx, 3xx, 4xx, 5xx, or failed when no
// response came at all (a proxied request whose upstream failed got the proxy's 502).
// Informational statuses count as 2xx: the request went through.
func StatusClass(x *model.Exchange) string {
	switch {
	case x.Status == 0:
		return "failed"
	case x.Status < 300:
		return "2xx"
	case x.Status < 400:
		return "3xx"
	case x.Status < 500:
		return "4xx"
	}
	return "5xx"
}

// ClientHost is a client address without its port: the part that names the browser's
// machine, since each of its connections has a port of its own.
func ClientHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// EventQuery selects events from the recent ring. Its selectors are alternatives: an
// event matches when it is about one of Sessions (or is the regeneration that moved one
// of them to a new id), when one of Exchanges caused it, when its seq is among Seqs, or
// when it was stamped within [From, To]. A query that sets no selector matches nothing,
// so a forgotten filter never returns the whole ring. Kinds, when set, then keeps only
// events of those kinds.
type EventQuery struct {
	Sessions  []string     // session refs
	Exchanges []string     // exchange ids
	Seqs      []uint64     // event seqs
	From, To  time.Time    // inclusive; either may be zero for an open end, not both
	Kinds     []model.Kind // narrows what the selectors matched
}

// Match reports whether e is selected by q.
func (q EventQuery) Match(e *model.Event) bool { return q.compile().match(e) }

// eventSelector is an EventQuery with its lists made sets, for a walk over the ring: a
// flow selects hundreds of refs and exchanges.
type eventSelector struct {
	q         EventQuery
	sessions  map[string]bool
	exchanges map[string]bool
	seqs      map[uint64]bool
}

func (q EventQuery) compile() eventSelector {
	s := eventSelector{q: q, sessions: map[string]bool{}, exchanges: map[string]bool{}, seqs: map[uint64]bool{}}
	for _, r := range q.Sessions {
		s.sessions[r] = true
	}
	for _, id := range q.Exchanges {
		s.exchanges[id] = true
	}
	for _, n := range q.Seqs {
		s.seqs[n] = true
	}
	return s
}

func (s eventSelector) match(e *model.Event) bool {
	q := s.q
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, e.Kind) {
		return false
	}
	switch {
	case e.Session != nil && s.sessions[e.Session.Ref],
		e.From != nil && s.sessions[e.From.Ref],
		e.Exchange != "" && s.exchanges[e.Exchange],
		s.seqs[e.Seq]:
		return true
	case q.From.IsZero() && q.To.IsZero():
		return false
	}
	return (q.From.IsZero() || !e.Time.Before(q.From)) && (q.To.IsZero() || !e.Time.After(q.To))
}

// SelectEvents returns the events among objs that any of qs matches, in the order of
// objs. It is the one definition of Events, for anything holding a copy of the ring.
func SelectEvents(objs []model.Object, qs ...EventQuery) []*model.Event {
	sels := make([]eventSelector, len(qs))
	for i, q := range qs {
		sels[i] = q.compile()
	}
	var out []*model.Event
	for _, o := range objs {
		e, ok := o.(*model.Event)
		if !ok {
			continue
		}
		if slices.ContainsFunc(sels, func(s eventSelector) bool { return s.match(e) }) {
			out = append(out, e)
		}
	}
	return out
}

// Events returns the events still in the recent ring that any of qs matches, oldest
// first: a session's history, what an exchange wrote, the gaps of a time span.
func (in *Inspector) Events(qs ...EventQuery) []*model.Event {
	objs, _ := in.broadcast.Since(0, 0)
	return SelectEvents(objs, qs...)
}
