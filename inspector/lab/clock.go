package lab

import (
	"context"
	"sync"
	"time"
)

// clock is the lab's time for what the lab itself decides: the app's login times and
// absolute timeout, the virtual browser's cookie expiry, the memory store's TTLs, a
// scenario's waits and the store's latency. The pacing the inspector needs to tell
// requests and store writes apart (thinkTime, roundTrip) is not on it: the inspector
// correlates on the wall clock, so that pacing always takes real time.
type clock interface {
	// Now is the lab's current time.
	Now() time.Time
	// Pass lets d go by for everyone (a user steps away, a slow store answers the
	// request in hand); it returns early with ctx's error.
	Pass(ctx context.Context, d time.Duration) error
	// Await waits until d has gone by without making time pass itself (a write that
	// lands late, in the background); it returns early with ctx's error.
	Await(ctx context.Context, d time.Duration) error
}

// wallClock is real time: waits sleep. It is what a trainer's lab runs on.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Pass(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return pause(ctx, d)
}

func (c wallClock) Await(ctx context.Context, d time.Duration) error { return c.Pass(ctx, d) }

// jumpClock runs ahead of the wall clock: Pass moves it forward at once instead of
// sleeping, and wakes whatever Awaits a time that has now come. A scenario that waits
// for a cookie or a session to expire proves nothing by sleeping through it, so tests
// run the lab on this clock (Config.VirtualTime).
type jumpClock struct {
	mu     sync.Mutex
	ahead  time.Duration
	jumped chan struct{} // closed and replaced at every jump
	// moved runs after each jump, outside the lock: the memory store expires the keys
	// whose TTL the jump has run out.
	moved func()
}

func newJumpClock() *jumpClock { return &jumpClock{jumped: make(chan struct{})} }

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.ahead)
}

func (c *jumpClock) Pass(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.ahead += d
	close(c.jumped)
	c.jumped = make(chan struct{})
	moved := c.moved
	c.mu.Unlock()
	if moved != nil {
		moved()
	}
	return nil
}

func (c *jumpClock) Await(ctx context.Context, d time.Duration) error {
	due := c.Now().Add(d)
	for {
		c.mu.Lock()
		left, jumped := due.Sub(time.Now().Add(c.ahead)), c.jumped
		c.mu.Unlock()
		if left <= 0 {
			return nil
		}
		t := time.NewTimer(left)
		select {
		case <-t.C:
		case <-jumped:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}
