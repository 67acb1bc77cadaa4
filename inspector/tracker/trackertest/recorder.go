// Package trackertest is the test harness shared by the packages that run an inspector
// (or a bare store) and wait for what it publishes: a Recorder that waits for an item,
// a Watch that records every object an inspector publishes, and the check that a
// session table holds exactly the store's keys.
//
// No wait asserts on time: Limit only stops a hung test, so it is generous for
// loaded CI machines, and every step waits for the item it expects instead of
// sleeping.
package trackertest

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Limit is how long a wait may take before the test fails as hung.
const Limit = time.Minute

// Recorder keeps what a test observes, in order, and lets it wait for an item.
type Recorder[T any] struct {
	mu    sync.Mutex
	items []T
	// grew is closed and replaced at every Add, so that any number of waiters wake;
	// a buffered one-slot channel would wake only one of them.
	grew chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder[T any]() *Recorder[T] { return &Recorder[T]{grew: make(chan struct{})} }

// Add appends v and wakes the waiters. It never blocks on them.
func (r *Recorder[T]) Add(v T) {
	r.mu.Lock()
	r.items = append(r.items, v)
	close(r.grew)
	r.grew = make(chan struct{})
	r.mu.Unlock()
}

// All returns a copy of the items so far.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// Wait blocks until an item satisfies pred and returns it with its index; after Limit
// it fails the test with "no <what> within …". pred sees each item once, in order, so
// it may count ("the third exchange").
func (r *Recorder[T]) Wait(t testing.TB, what string, pred func(T) bool) (T, int) {
	t.Helper()
	return r.waitUnless(t, what, pred, nil, nil)
}

// waitUnless is Wait that also gives up as soon as quit closes, failing with
// why(what): a waiter need not sit out Limit for an item that can no longer come.
func (r *Recorder[T]) waitUnless(t testing.TB, what string, pred func(T) bool, quit <-chan struct{}, why func(what string) string) (T, int) {
	t.Helper()
	limit := time.After(Limit)
	seen := 0
	for {
		r.mu.Lock()
		for ; seen < len(r.items); seen++ {
			if pred(r.items[seen]) {
				v := r.items[seen]
				r.mu.Unlock()
				return v, seen
			}
		}
		grew := r.grew
		r.mu.Unlock()
		select {
		case <-grew:
		case <-quit:
			t.Fatal(why(what))
		case <-limit:
			t.Fatalf("no %s within %s", what, Limit)
		}
	}
}

// Eventually polls cond until it holds, failing the test after limit with cond's last
// detail. It is for conditions no recorded item announces (a count reached, a table
// that converged); the limit only guards against a hang.
func Eventually(t testing.TB, what string, limit time.Duration, cond func() (ok bool, detail string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s: %s", what, limit, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
