package ui

import (
	"sync"
	"time"
)

// The login throttle: a client address may get the token wrong freeFailures times
// within failureWindow; after that it is locked out, first for firstLockout, each
// further wrong token doubling the lockout up to maxLockout. While locked out, its
// attempts are refused without the token being checked. A right token clears it.
const (
	freeFailures   = 5
	failureWindow  = time.Minute
	firstLockout   = time.Second
	maxLockout     = 5 * time.Minute
	forgetAfter    = 15 * time.Minute // an address quiet this long starts afresh
	maxThrottled   = 10000            // addresses tracked at most, so a flood cannot grow memory
	tooManyRetryIn = time.Second      // minimum Retry-After
)

type failureRecord struct {
	failures    int       // wrong tokens since windowStart
	windowStart time.Time // first failure of the current window
	lastFailure time.Time
	lockout     time.Duration // the current lockout's length; 0 while not locked out yet
	lockedUntil time.Time
	reported    bool // the current lockout's first refusal was logged
}

type failureThrottle struct {
	mu      sync.Mutex
	clients map[string]*failureRecord
}

func newFailureThrottle() *failureThrottle {
	return &failureThrottle{clients: map[string]*failureRecord{}}
}

// blocked reports how long client must still wait, and whether this is the first
// refusal of its lockout (the one worth logging: a flood would otherwise flood the log).
func (t *failureThrottle) blocked(client string, now time.Time) (wait time.Duration, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.clients[client]
	if rec == nil || !now.Before(rec.lockedUntil) {
		return 0, false
	}
	first = !rec.reported
	rec.reported = true
	return max(rec.lockedUntil.Sub(now), tooManyRetryIn), first
}

// failed records a wrong token and returns the failures counted and the lockout it
// started (0 for none).
func (t *failureThrottle) failed(client string, now time.Time) (int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := t.clients[client]
	if rec != nil && now.Sub(rec.lastFailure) > forgetAfter && !now.Before(rec.lockedUntil) {
		rec = nil // quiet long enough to start afresh
	}
	if rec == nil {
		t.makeRoomLocked(now)
		rec = &failureRecord{windowStart: now}
		t.clients[client] = rec
	}
	if rec.lockout == 0 && now.Sub(rec.windowStart) > failureWindow {
		rec.failures, rec.windowStart = 0, now
	}
	rec.failures++
	rec.lastFailure = now
	if rec.failures < freeFailures {
		return rec.failures, 0
	}
	rec.lockout = min(max(rec.lockout*2, firstLockout), maxLockout)
	rec.lockedUntil, rec.reported = now.Add(rec.lockout), false
	return rec.failures, rec.lockout
}

func (t *failureThrottle) succeeded(client string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.clients, client)
}

// makeRoomLocked forgets quiet addresses, then, while the table is full, the one whose
// last failure is oldest.
func (t *failureThrottle) makeRoomLocked(now time.Time) {
	if len(t.clients) < maxThrottled {
		return
	}
	for c, rec := range t.clients {
		if now.Sub(rec.lastFailure) > forgetAfter && !now.Before(rec.lockedUntil) {
			delete(t.clients, c)
		}
	}
	for len(t.clients) >= maxThrottled {
		var oldest string
		var at time.Time
		for c, rec := range t.clients {
			if at.IsZero() || rec.lastFailure.Before(at) {
				oldest, at = c, rec.lastFailure
			}
		}
		delete(t.clients, oldest)
	}
}
