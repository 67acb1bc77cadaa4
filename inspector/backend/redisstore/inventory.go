package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// inventory lists the sessions that exist with SCAN (never KEYS) and reads their TTL
// and size in pipelines, in one pass: the re-inventory after a gap uses it, because it
// reconciles the table and needs every TTL at once. The first inventory runs in two
// phases instead (twophase.go). A scanner goroutine feeds key batches to two metadata workers
// so that the next SCAN page is in flight while the previous page's metadata is read.
//
// With one prefix the SCAN uses MATCH <prefix>*. With several (the default table has
// a dozen) it walks the keyspace once without MATCH and filters here: a MATCH scan per
// prefix would make Redis walk its whole keyspace a dozen times.
func (s *Store) inventory(ctx context.Context, feed backend.Feed) (*model.Inventory, error) {
	var scanned, sessions atomic.Int64
	fws := s.cfg.Matcher.Frameworks()
	pattern := ""
	if len(fws) == 1 {
		pattern = fws[0].ScanPattern()
	}
	estimate := s.scanEstimate(ctx, pattern)
	batches := make(chan []string, 4)
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for keys := range batches {
				items, err := s.readMeta(ctx, keys)
				if err != nil {
					errs <- err
					return
				}
				if len(items) == 0 {
					continue
				}
				sessions.Add(int64(len(items)))
				select {
				case feed.Inventory <- items:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	progressDone := make(chan struct{})
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-t.C:
				s.sendStatus(feed, model.StateInventory, &model.Inventory{Scanned: scanned.Load(), Sessions: sessions.Load(),
					Estimate: estimate}, "")
			}
		}
	}()

	scanErr := func() error {
		defer close(batches)
		var cursor uint64
		for {
			keys, next, err := s.client.Scan(ctx, cursor, pattern, s.cfg.ScanCount).Result()
			if err != nil {
				return fmt.Errorf("redis backend: scan %q: %w", pattern, explainPerm(err, "+scan"))
			}
			scanned.Add(int64(len(keys)))
			if err := s.paceScan(ctx, len(keys)); err != nil {
				return err
			}
			batch := keys[:0]
			for _, k := range keys {
				if _, ok := s.cfg.Matcher.Match(k); ok {
					batch = append(batch, k)
				}
			}
			if cursor == 0 && estimate > 0 {
				// The first page's share of session keys, with DBSIZE, tells the tracker
				// how big its table is about to get (it reserves it once) and the UI
				// what the progress bar heads for.
				s.sendStatus(feed, model.StateInventory, &model.Inventory{Scanned: int64(len(keys)),
					Sessions: int64(len(batch)), Estimate: estimate}, "")
			}
			if len(batch) > 0 {
				select {
				case batches <- batch:
				case <-ctx.Done():
					return ctx.Err()
				case err := <-errs:
					return err
				}
			}
			cursor = next
			if cursor == 0 {
				return nil
			}
		}
	}()
	wg.Wait()
	close(progressDone)
	inv := &model.Inventory{Scanned: scanned.Load(), Sessions: sessions.Load()}
	if scanErr != nil {
		return inv, scanErr
	}
	select {
	case err := <-errs:
		return inv, err
	default:
	}
	return inv, nil
}

// scanEstimate is the number of keys an unfiltered SCAN will walk, for progress: DBSIZE
// (read-only, O(1)). A MATCH scan only counts the keys it returns, so DBSIZE would be
// no total for it: 0, unknown. A user whose ACL lacks DBSIZE just gets no estimate.
func (s *Store) scanEstimate(ctx context.Context, pattern string) int64 {
	if pattern != "" {
		return 0
	}
	n, err := s.client.DBSize(ctx).Result()
	if err != nil {
		s.cfg.Logger.Debug("redis backend: no key count for inventory progress", "err", err)
		return 0
	}
	return n
}

// readMeta reads PTTL and size for a page of keys in one pipeline, typing each key by
// the framework it matches. Keys that vanished between SCAN and the read are left out.
func (s *Store) readMeta(ctx context.Context, keys []string) ([]backend.InventoryItem, error) {
	typeOf := func(i int) framework.KeyType {
		m, _ := s.cfg.Matcher.Match(keys[i])
		return m.Framework.Type
	}
	return s.readTTLSize(ctx, nil, keys, typeOf, backend.ItemComplete, 0)
}

func isWrongType(err error) bool {
	return err != nil && len(err.Error()) >= 9 && err.Error()[:9] == "WRONGTYPE"
}
