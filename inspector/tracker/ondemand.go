// On-demand reads: a session found by the inventory has no payload until its next
// write. Opening it reads the payload once, through the same store reads and the same
// read budget as the live reads (a GET, HGETALL or TTL per key: never KEYS or MONITOR).

package tracker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
)

// ErrBudgetSpent means the payload read budget allowed no read: the caller may try
// again in a moment, or with wait.
var ErrBudgetSpent = errors.New("payload read budget spent")

// ErrKeyGone means the session's key was no longer in the store when it was read.
var ErrKeyGone = errors.New("the session's key is gone from the store")

// maxDemandWait bounds how long ReadPayload with wait holds its caller for a token of
// the read budget: long enough for a budget of one read per second or more.
const maxDemandWait = 2 * time.Second

// adoption hands an on-demand read to the tracker goroutine, the only writer of the
// session table, to become the session's payload baseline.
type adoption struct {
	s     *session
	c     *cachedPayload
	res   backend.ReadResult
	at    time.Time
	reply chan bool
}

// ReadPayload returns one tracked session with its payload, reading the payload from
// the store when none is held (a session found by the inventory, or whose reads were
// skipped for budget). The read counts against the read budget: without wait, a spent
// budget returns an error wrapping ErrBudgetSpent at once; with wait, the call waits a
// little for the budget to allow it. The payload read becomes the session's baseline
// when nothing about the key is in flight, so later updates name what changed.
func (t *Tracker) ReadPayload(ctx context.Context, ref string, wait bool) (SessionDetail, error) {
	d, s, err := t.detail(ref)
	if err != nil || d.Payload != nil {
		return d, err
	}
	if err := t.takeReadToken(ctx, wait); err != nil {
		return d, fmt.Errorf("session %s: %w", ref, err)
	}
	t.stats.Reads.Add(1)
	t.mu.RLock()
	fw := t.fwOf(s)
	t.mu.RUnlock()
	m, ok := t.cfg.Matcher.Match(s.key)
	if !ok {
		m = framework.Match{Framework: fw}
	}
	readCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	results := t.store.Read(readCtx, []backend.ReadRequest{{Key: s.key, Type: fw.Type, MaxBytes: t.cfg.MaxPayloadBytes}})
	cancel()
	at := time.Now()
	if len(results) == 0 {
		return d, fmt.Errorf("session %s: read payload: the store returned no answer", ref)
	}
	res := results[0]
	if res.Err != nil {
		return d, fmt.Errorf("session %s: read payload: %w", ref, res.Err)
	}
	if !res.Exists {
		return d, fmt.Errorf("session %s: %w", ref, ErrKeyGone)
	}
	c := decodePayload(res, t.cfg.Matcher.Resolve(m, res.Data).Framework, t.cfg.AuthMarkers)
	t.adopt(ctx, adoption{s: s, c: c, res: res, at: at})
	if d2, _, err := t.detail(ref); err == nil {
		d = d2
	}
	if d.Payload == nil {
		// Not adopted (a write to the key was in flight): show what was read anyway.
		d.Payload = c.decoded
		d.Row.Format = string(c.decoded.Format)
		d.Row.Size = res.Size
		d.Row.Authenticated, d.Row.PayloadRead = c.auth, true
	}
	return d, nil
}

// detail looks up a tracked session under the read lock.
func (t *Tracker) detail(ref string) (SessionDetail, *session, error) {
	s := t.sessionByRef(ref)
	if s == nil {
		return SessionDetail{}, nil, fmt.Errorf("session %s: %w", ref, ErrNotFound)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.sessions.getRef(s.ref) != s {
		return SessionDetail{}, nil, fmt.Errorf("session %s: %w", ref, ErrNotFound)
	}
	d := SessionDetail{Row: t.row(s)}
	if s.payload != nil {
		d.Payload = s.payload.decoded
	}
	return d, s, nil
}

// takeReadToken spends one read of the budget, waiting up to maxDemandWait for it when
// wait is set.
func (t *Tracker) takeReadToken(ctx context.Context, wait bool) error {
	if !wait {
		if t.limiter.Allow() {
			return nil
		}
		t.stats.BudgetDenied.Add(1)
		return ErrBudgetSpent
	}
	waitCtx, cancel := context.WithTimeout(ctx, maxDemandWait)
	defer cancel()
	if err := t.limiter.Wait(waitCtx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.stats.BudgetDenied.Add(1)
		return ErrBudgetSpent
	}
	return nil
}

// adopt asks the tracker goroutine to take the read as the session's baseline, and
// waits for its answer a short while: a tracker that is not running adopts nothing.
func (t *Tracker) adopt(ctx context.Context, a adoption) bool {
	ctx, cancel := context.WithTimeout(ctx, maxDemandWait)
	defer cancel()
	a.reply = make(chan bool, 1)
	select {
	case t.adoptReq <- a:
	case <-ctx.Done():
		return false
	}
	select {
	case ok := <-a.reply:
		return ok
	case <-ctx.Done():
		return false
	}
}

// onAdopt runs on the tracker goroutine. The read becomes the baseline only when no
// notification about the key waits anywhere (in the raw queue or a correlation
// window), so a write the read may already include is never compared against it.
func (t *Tracker) onAdopt(a adoption, feed backend.Feed) bool {
	s := a.s
	if feed.RawLen() > 0 || t.pending[s.key] != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sessions.get(s.key) != s || s.payload != nil {
		return false
	}
	s.fw = t.fwIndex(a.c.fw)
	s.flags |= flagPayloadRead
	if a.c.auth {
		s.flags |= flagAuthenticated
	} else {
		s.flags &^= flagAuthenticated
	}
	s.size = int32(min(a.res.Size, 1<<31-1))
	s.ttlDeadline = deadlineFor(a.at, a.res.TTL)
	t.cache.put(s, a.c)
	return true
}

// sessionByRef finds a tracked session by its full ref, nil when none.
func (t *Tracker) sessionByRef(ref string) *session {
	key, ok := parseRef(ref)
	if !ok {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.sessions.getRef(key)
}

// parseRef turns a 12-digit hex ref into its bytes.
func parseRef(ref string) ([6]byte, bool) {
	var key [6]byte
	b, err := hex.DecodeString(ref)
	if err != nil || len(b) != len(key) {
		return key, false
	}
	copy(key[:], b)
	return key, true
}
