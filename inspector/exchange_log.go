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

// clear empties the ring and returns how many exchanges it held.
func (l *exchangeLog) clear() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.n
	clear(l.buf)
	l.next, l.n = 0, 0
	return n
}

// query walks newest to oldest and returns clones, oldest first.
func (l *exchangeLog) query(q ExchangeQuery) []*model.Exchange {
	l.mu.Lock()
	picked := newestMatches(q, l.n, func(i int) *model.Exchange {
		return l.buf[(l.next-1-i+len(l.buf))%len(l.buf)]
	})
	l.mu.Unlock()
	return oldestFirstClones(picked)
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
