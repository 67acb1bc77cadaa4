package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// Reconnect pacing: go-redis redials on every receive, so the reader sleeps between
// attempts, doubling from backoffMin up to backoffMax. A restarted Redis is found
// within backoffMax; a dead one costs one dial per backoffMax, nothing more.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 4 * time.Second
	// stillDownEvery spaces the "still no connection" status lines of a long outage.
	stillDownEvery = 30 * time.Second
)

// backoff is an exponential delay capped at backoffMax; the zero value starts over.
type backoff struct{ cur time.Duration }

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = backoffMin
	case b.cur < backoffMax:
		b.cur = min(2*b.cur, backoffMax)
	}
	return b.cur
}

// resyncLoop re-inventories the node after each gap the queue reports, so that the
// tracker can reconcile its table with what the store holds. A failed re-inventory
// (Redis went away again) is retried with backoff; gaps that arrive meanwhile are
// merged into the one being closed.
func (s *Store) resyncLoop(ctx context.Context, feed backend.Feed, q *backend.Queue) {
	for {
		var gap backend.GapInfo
		select {
		case <-ctx.Done():
			return
		case gap = <-q.Gaps():
		}
		var retry backoff
		for {
			err := s.resync(ctx, feed, gap)
			if err == nil || ctx.Err() != nil {
				break
			}
			wait := retry.next()
			s.cfg.Logger.Warn("re-inventory after a gap failed", "node", s.node, "err", err, "retry_in", wait)
			s.sendStatus(feed, model.StateDisconnected, nil, fmt.Sprintf(
				"re-inventory after a gap failed (%s); retrying in %s", firstLine(err.Error()), wait))
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			case more := <-q.Gaps():
				gap = backend.MergeGaps(gap, more)
			}
		}
	}
}

// resync runs one re-inventory of the node, framed for the tracker: Begin (and wait
// until the tracker has applied every raw event queued before it), the items, then End,
// or Abort when the scan fails.
func (s *Store) resync(ctx context.Context, feed backend.Feed, gap backend.GapInfo) error {
	started := make(chan struct{})
	if !sendResync(ctx, feed, backend.Resync{Phase: backend.ResyncBegin, Node: s.node, Gap: gap, Started: started}) {
		return ctx.Err()
	}
	select {
	case <-started:
	case <-ctx.Done():
		return ctx.Err()
	}
	// A restarted server may have lost flags that --configure-notifications had set
	// with CONFIG SET: check (and, when asked, merge) them again.
	notif, _ := s.checkNotifications(ctx)
	s.mu.Lock()
	s.notif = notif
	s.mu.Unlock()

	// inventory sends to feed.Inventory; here its batches are forwarded, in order, as
	// resync items so that they stay inside the Begin/End frame.
	items := make(chan []backend.InventoryItem)
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for batch := range items {
			sendResync(ctx, feed, backend.Resync{Phase: backend.ResyncItems, Node: s.node, Items: batch})
		}
	}()
	scanFeed := feed
	scanFeed.Inventory = items
	s.sendStatus(feed, model.StateInventory, &model.Inventory{}, "re-inventory after a gap")
	scan, state := s.inventory, model.StateLive
	if s.rescan != nil {
		scan, state = s.rescan, model.StatePolling
	}
	inv, err := scan(ctx, scanFeed)
	close(items)
	<-forwarded
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		// With ctx over the tracker is gone too, and nobody needs the abort.
		sendResync(ctx, feed, backend.Resync{Phase: backend.ResyncAbort, Node: s.node})
		return err
	}
	if !sendResync(ctx, feed, backend.Resync{Phase: backend.ResyncEnd, Node: s.node}) {
		return ctx.Err()
	}
	inv.Done = true
	s.sendDone(ctx, feed, state, inv, fmt.Sprintf("resynced after the gap of %s–%s: %d sessions in the store",
		gap.From.Local().Format("15:04:05.000"), gap.To.Local().Format("15:04:05.000"), inv.Sessions))
	return nil
}

// sendResync hands a resync message to the tracker, which paces it like the inventory.
func sendResync(ctx context.Context, feed backend.Feed, r backend.Resync) bool {
	select {
	case feed.Resync <- r:
		return true
	case <-ctx.Done():
		return false
	}
}
