package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// attachment is sessionscope running in this process against the benchmark's Redis,
// exactly as the watch command wires it, plus one subscriber that reads every object.
type attachment struct {
	in      *inspector.Inspector
	store   *redisstore.Store
	sub     *stream.Subscription
	window  time.Duration
	started time.Time

	cancel  context.CancelFunc
	runErr  chan error
	subDone chan struct{}
	invDone chan struct{}

	stopOnce sync.Once
	stopErr  error

	// Written by the subscriber goroutine; the atomics may be read any time, the rest
	// after subDone.
	events   atomic.Int64 // lifecycle events received (tracker gap events included)
	hubGaps  atomic.Int64 // gap markers the hub sent this subscriber
	lastRecv atomic.Int64 // unix nanos of the last event received
	recordOn atomic.Bool  // record lags only while set
	lags     []time.Duration
	kinds    map[model.Kind]int64
	statuses []string
}

type attachOptions struct {
	tracker    tracker.Config
	queueSize  int
	subCap     int
	lagCap     int // capacity reserved for lag samples; 0 records none
	invTimeout time.Duration
	sinks      archiveSinks // none: as --no-history without --otlp-endpoint
}

// attach opens the store, starts the inspector and its subscriber, and waits until the
// inventory is done, so that what follows is live traffic only.
func attach(ctx context.Context, url string, opt attachOptions) (*attachment, error) {
	matcher := framework.NewMatcher(framework.Builtin())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: url, Matcher: matcher})
	if err != nil {
		return nil, err
	}
	tc := opt.tracker
	tc.Matcher = matcher
	window := tc.Window
	if window <= 0 {
		window = model.DefaultWindow // the tracker's default
	}
	a := &attachment{
		store: store, window: window, started: time.Now(),
		runErr: make(chan error, 1), subDone: make(chan struct{}), invDone: make(chan struct{}),
		kinds: map[model.Kind]int64{},
	}
	if opt.lagCap > 0 {
		a.lags = make([]time.Duration, 0, opt.lagCap)
	}
	a.in = inspector.New(store, inspector.Config{Tracker: tc, QueueSize: opt.queueSize, History: opt.sinks.history, Export: opt.sinks.export})
	a.sub = a.in.Subscribe(opt.subCap)
	go a.consume()
	runCtx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.runErr <- a.in.Run(runCtx) }()
	select {
	case <-a.invDone:
		return a, nil
	case err := <-a.runErr:
		a.runErr <- err
		a.stop()
		return nil, fmt.Errorf("sessionscope stopped before its inventory was done: %v", err)
	case <-time.After(opt.invTimeout):
		a.stop()
		return nil, fmt.Errorf("sessionscope inventory not done within %s", opt.invTimeout)
	case <-ctx.Done():
		a.stop()
		return nil, ctx.Err()
	}
}

// consume is the subscriber: it reads every object and stamps the lag of each event.
func (a *attachment) consume() {
	defer close(a.subDone)
	invClosed := false
	for o := range a.sub.C() {
		now := time.Now()
		switch v := o.(type) {
		case *model.Event:
			if v.Kind == model.KindGap && v.Backend == "sessionscope" {
				a.hubGaps.Add(1)
				continue
			}
			a.kinds[v.Kind]++
			if v.Kind != model.KindGap && a.recordOn.Load() && len(a.lags) < cap(a.lags) {
				// The window is a deliberate delay, so it is not lag.
				a.lags = append(a.lags, now.Sub(v.Time)-a.window)
			}
			a.lastRecv.Store(now.UnixNano())
			a.events.Add(1)
		case *model.Status:
			if len(a.statuses) < 32 {
				a.statuses = append(a.statuses, v.State+" "+v.Message)
			}
			if !invClosed && v.Inventory != nil && v.Inventory.Done {
				invClosed = true
				close(a.invDone)
			}
		}
	}
}

// processed reports how many raw notifications sessionscope has accounted for:
// ingested (gap markers excluded) plus those it reported dropped.
func (a *attachment) processed() int64 {
	st := a.in.Stats()
	return st.RawEvents.Load() - st.Gaps.Load() + st.Dropped.Load()
}

// waitProcessed waits until sessionscope has taken in expectedRaw notifications (or,
// with expectedRaw <= 0 or after a gap, until they stop coming for a second) and emitted every event
// that was pending: the subscriber has received all that was emitted and nothing new
// came for settle. It returns when the last event reached the subscriber.
func (a *attachment) waitProcessed(ctx context.Context, expectedRaw int64, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	settle := max(time.Second, 2*a.window+200*time.Millisecond)
	lastRaw, lastRawChange := int64(-1), time.Now()
	lastEmitted, lastEmitChange := int64(-1), time.Now()
	for {
		now := time.Now()
		if now.After(deadline) {
			return time.Unix(0, a.lastRecv.Load()), fmt.Errorf("sessionscope did not finish within %s: %d of %d notifications processed, %d events emitted, %d received",
				timeout, a.processed(), expectedRaw, a.in.Stats().Emitted.Load(), a.events.Load())
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		p := a.processed()
		if p != lastRaw {
			lastRaw, lastRawChange = p, now
		}
		// A disconnect (Redis closes a subscriber whose output buffer passes its limit)
		// loses an unknown number of notifications: then wait for quiescence instead.
		quiet := now.Sub(lastRawChange) >= time.Second
		rawDone := (expectedRaw > 0 && p >= expectedRaw) || ((expectedRaw <= 0 || a.in.Stats().Gaps.Load() > 0) && quiet)
		em := a.in.Stats().Emitted.Load()
		if em != lastEmitted {
			lastEmitted, lastEmitChange = em, now
		}
		got := a.events.Load() + a.sub.Dropped()
		if rawDone && got >= em && now.Sub(lastEmitChange) >= settle {
			return time.Unix(0, a.lastRecv.Load()), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop cancels the inspector, waits for it and for the subscriber, and closes the store.
// It is safe to call more than once.
func (a *attachment) stop() error {
	a.stopOnce.Do(func() { a.stopErr = a.doStop() })
	return a.stopErr
}

func (a *attachment) doStop() error {
	a.cancel()
	var err error
	select {
	case err = <-a.runErr:
	case <-time.After(30 * time.Second):
		err = errors.New("sessionscope did not stop within 30 s")
	}
	a.sub.Cancel()
	select {
	case <-a.subDone:
	case <-time.After(10 * time.Second):
	}
	_ = a.store.Close()
	return err
}
