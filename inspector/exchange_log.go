package inspector

import (
	"fmt"
	"sync"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// DefaultExchangeLog is how many proxied exchanges the inspector keeps for the
// Requests screen and the flow view. An exchange without bodies is about 1 KB.
const DefaultExchangeLog = 10000

// ErrExchangeNotFound is returned by Exchange for an id that is not (or no longer) kept.
var ErrExchangeNotFound = fmt.Errorf("exchange not found")

// ExchangeQuery selects exchanges from the log.
type ExchangeQuery struct {
	// SessionRef keeps exchanges that carried, set or held back a cookie of this session.
	SessionRef string
	// Client keeps one browser's exchanges (address and User-Agent).
	Client *model.Client
	// IDs keeps only these exchanges.
	IDs []string
	// BeforeSeq pages backwards: only exchanges with a smaller seq. 0: from the newest.
	BeforeSeq uint64
	// Limit is the most returned, the newest of the matches. Default 200.
	Limit int
}

// exchangeLog is a ring of the exchanges as published, annotated with the cookie
// verdicts. Entries are never modified after insertion; readers get clones.
type exchangeLog struct {
	mu   sync.Mutex
	buf  []*model.Exchange
	next int
	n    int
}

func newExchangeLog(size int) *exchangeLog {
	if size <= 0 {
		size = DefaultExchangeLog
	}
	return &exchangeLog{buf: make([]*model.Exchange, size)}
}

func (l *exchangeLog) add(x *model.Exchange) {
	l.mu.Lock()
	l.buf[l.next] = x
	l.next = (l.next + 1) % len(l.buf)
	if l.n < len(l.buf) {
		l.n++
	}
	l.mu.Unlock()
}

// query walks newest to oldest and returns clones, oldest first.
func (l *exchangeLog) query(q ExchangeQuery) []*model.Exchange {
	if q.Limit <= 0 {
		q.Limit = 200
	}
	ids := map[string]bool{}
	for _, id := range q.IDs {
		ids[id] = true
	}
	l.mu.Lock()
	var picked []*model.Exchange
	for i := 0; i < l.n && len(picked) < q.Limit; i++ {
		x := l.buf[(l.next-1-i+len(l.buf))%len(l.buf)]
		if q.BeforeSeq != 0 && x.Seq >= q.BeforeSeq {
			continue
		}
		if len(ids) > 0 && !ids[x.ID] {
			continue
		}
		if q.Client != nil && x.Client != *q.Client {
			continue
		}
		if q.SessionRef != "" && !touchesSession(x, q.SessionRef) {
			continue
		}
		picked = append(picked, x)
	}
	l.mu.Unlock()
	out := make([]*model.Exchange, len(picked))
	for i, x := range picked {
		out[len(picked)-1-i] = x.Clone()
	}
	return out
}

// touchesSession reports whether x carried, set or held back a cookie of session ref.
func touchesSession(x *model.Exchange, ref string) bool {
	if x.SessionRef == ref {
		return true
	}
	for _, c := range x.CookiesSent {
		if c.SessionRef == ref {
			return true
		}
	}
	for _, c := range x.SetCookies {
		if c.SessionRef == ref {
			return true
		}
	}
	for _, c := range x.CookiesBlocked {
		if c.SessionRef == ref {
			return true
		}
	}
	return false
}

// Exchanges returns the kept exchanges that match q, oldest first, with the cookie
// verdicts of the live replay (Set-Cookie Stored/Reason, CookiesBlocked).
func (in *Inspector) Exchanges(q ExchangeQuery) []*model.Exchange { return in.exchanges.query(q) }

// Exchange returns one kept exchange by id; the error wraps ErrExchangeNotFound when
// it is unknown or has left the log.
func (in *Inspector) Exchange(id string) (*model.Exchange, error) {
	xs := in.exchanges.query(ExchangeQuery{IDs: []string{id}, Limit: 1})
	if len(xs) == 0 {
		return nil, fmt.Errorf("exchange %q: %w", id, ErrExchangeNotFound)
	}
	return xs[0], nil
}
