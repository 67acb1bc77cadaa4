package traffic

import (
	"sync"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// ring keeps the last exchanges, oldest overwritten first. Exchanges in it are never
// modified after insertion; readers get clones.
type ring struct {
	mu    sync.Mutex
	buf   []*model.Exchange
	next  int    // where the next exchange goes
	n     int    // how many are kept
	total uint64 // how many were ever added
}

func newRing(size int) *ring { return &ring{buf: make([]*model.Exchange, size)} }

func (r *ring) add(x *model.Exchange) {
	r.mu.Lock()
	r.buf[r.next] = x
	r.next = (r.next + 1) % len(r.buf)
	if r.n < len(r.buf) {
		r.n++
	}
	r.total++
	r.mu.Unlock()
}

// collect returns clones of the kept exchanges, oldest first, that keep accepts, at
// most the last limit of them (limit <= 0: all).
func (r *ring) collect(limit int, keep func(*model.Exchange) bool) []*model.Exchange {
	r.mu.Lock()
	picked := make([]*model.Exchange, 0, min(r.n, max(limit, 0)))
	for i := 0; i < r.n; i++ {
		// Walk newest to oldest so limit keeps the newest.
		x := r.buf[(r.next-1-i+len(r.buf))%len(r.buf)]
		if keep != nil && !keep(x) {
			continue
		}
		picked = append(picked, x)
		if limit > 0 && len(picked) == limit {
			break
		}
	}
	r.mu.Unlock()
	out := make([]*model.Exchange, len(picked))
	for i, x := range picked {
		out[len(picked)-1-i] = x.Clone()
	}
	return out
}

func (r *ring) stats() (kept int, total uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.total
}
