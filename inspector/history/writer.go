package history

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// writer is the one goroutine that writes: it takes batches off the queue, one
// transaction each, then applies retention.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]model.Object, 0, maxBatch)
	for {
		var flushed chan struct{}
		select {
		case o := <-s.queue:
			batch = append(batch, o)
			batch, flushed = s.fill(batch)
			batch = s.drain(batch)
		case flushed = <-s.flushes:
			batch = s.drain(batch)
		case <-s.stop:
			s.stopping = true
			for {
				batch = s.drain(batch)
				if len(batch) == 0 {
					break
				}
				s.writeBatch(batch)
				batch = batch[:0]
			}
			s.writeBatch(nil) // the pending gaps, and the run's end
			return
		}
		for len(batch) > 0 {
			s.writeBatch(batch)
			batch = batch[:0]
			if flushed != nil {
				batch = s.drain(batch)
			}
		}
		if flushed != nil {
			s.writeBatch(nil) // gaps pending, so that a flush sees them
			close(flushed)
		}
	}
}

// fill adds to batch until it is full or batchDelay has passed since it started.
func (s *Store) fill(batch []model.Object) ([]model.Object, chan struct{}) {
	timer := time.NewTimer(batchDelay)
	defer timer.Stop()
	for len(batch) < batchSize {
		select {
		case o := <-s.queue:
			batch = append(batch, o)
		case req := <-s.flushes:
			return s.drain(batch), req
		case <-s.stop:
			// Put the stop back in view: the main loop drains and exits.
			return batch, nil
		case <-timer.C:
			return batch, nil
		}
	}
	return batch, nil
}

// drain adds to batch what is queued now, up to maxBatch: when the writer is behind,
// bigger transactions write each index page they touch once for more objects.
func (s *Store) drain(batch []model.Object) []model.Object {
	for len(batch) < maxBatch {
		select {
		case o := <-s.queue:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// writeBatch writes batch in one transaction, with the gaps pending when the queue
// has drained. A failed write loses the batch: it is counted and becomes a gap.
func (s *Store) writeBatch(batch []model.Object) {
	if s.opts.beforeBatch != nil {
		s.opts.beforeBatch()
	}
	if s.isBusy() {
		s.pause(batch)
		return
	}
	var gaps []*model.Event
	paused := s.paused
	if paused.n > 0 {
		gaps = append(gaps, historyGap(paused.first, paused.end, paused.n,
			fmt.Sprintf("history paused while the live stream caught up: %d objects not recorded", paused.n)))
	}
	var overflow lostSpan
	if len(s.queue) == 0 {
		s.mu.Lock()
		overflow, s.overflow = s.overflow, lostSpan{}
		s.mu.Unlock()
		if overflow.n > 0 {
			gaps = append(gaps, historyGap(overflow.first, overflow.end, overflow.n,
				fmt.Sprintf("history queue overflow: %d objects not recorded", overflow.n)))
		}
	}
	failed := s.failed
	if failed.n > 0 {
		gaps = append(gaps, historyGap(failed.first, failed.end, failed.n,
			fmt.Sprintf("history write failed: %s", failed.what)))
	}
	err := s.commit(batch, gaps)
	if err != nil {
		s.errs.Add(1)
		s.dropped.Add(int64(len(batch)))
		// Once per run: a full disk fails every batch, and Stats.Errors counts them.
		if !s.logged {
			s.opts.Logger.Error("history write failed; sessionscope goes on and records a history gap", "path", s.path, "err", oneLine(err.Error()))
			s.logged = true
		}
		if len(batch) > 0 {
			first, last := objectTime(batch[0]), objectTime(batch[0])
			for _, o := range batch[1:] {
				t := objectTime(o)
				if t.Before(first) {
					first = t
				}
				if t.After(last) {
					last = t
				}
			}
			s.failed.add(int64(len(batch)), first, last)
			s.failed.what = oneLine(err.Error())
		}
		if overflow.n > 0 { // not written: keep it for the next batch
			s.mu.Lock()
			s.overflow.add(overflow.n, overflow.first, overflow.end)
			s.mu.Unlock()
		}
		return
	}
	s.failed = lostSpan{}
	s.paused = lostSpan{}
	s.written.Add(int64(len(batch)))
	s.gaps.Add(int64(len(gaps)))
	s.retain()
}

// pause counts batch into the paused span instead of writing it. Status objects are
// not history: they would not have been written, so they are not lost either.
func (s *Store) pause(batch []model.Object) {
	var n int64
	for _, o := range batch {
		t := objectTime(o)
		if t.IsZero() {
			continue
		}
		s.paused.add(1, t, t)
		n++
	}
	s.dropped.Add(n)
	s.pausedN.Add(n)
}

func (s *Store) commit(batch []model.Object, gaps []*model.Event) error {
	ctx := context.Background()
	w := s.w
	if err := w.begin(ctx); err != nil {
		return err
	}
	gapObjs := make([]model.Object, len(gaps))
	for i, g := range gaps {
		gapObjs[i] = g
	}
	last, err := w.insertObjects(ctx, s.lastRow.Load(), gapObjs, batch)
	if err == nil {
		err = w.setLastWrite(ctx, s.opts.Now(), s.runID)
	}
	if err == nil {
		err = w.commit(ctx)
	}
	if err != nil {
		w.rollback(ctx)
		return err
	}
	if last > 0 {
		s.lastRow.Store(last)
	}
	return nil
}

func eventKeys(e *model.Event) []string {
	var keys []string
	add := func(si *model.SessionInfo) {
		if si == nil {
			return
		}
		if si.Ref != "" {
			keys = append(keys, "r:"+si.Ref)
		}
		if si.ID != "" {
			keys = append(keys, "i:"+si.ID)
		}
	}
	add(e.Session)
	add(e.From)
	for i := range e.Candidates {
		add(&e.Candidates[i])
	}
	return keys
}

func exchangeKeys(x *model.Exchange) []string {
	refs := x.SessionRefs()
	for i, ref := range refs {
		refs[i] = "r:" + ref
	}
	return refs
}

func objectTime(o model.Object) time.Time {
	switch v := o.(type) {
	case *model.Event:
		return v.Time
	case *model.Exchange:
		return v.Start
	case *model.Finding:
		return v.Time
	}
	return time.Time{}
}

// retain applies retention by age, then by size. The size is the page count (kept by
// SQLite, no scan) plus the WAL file, so the check is cheap enough for every batch.
func (s *Store) retain() {
	ctx := context.Background()
	cutoff := s.opts.Now().Add(-s.opts.MaxAge).UnixNano()
	// The oldest time is one seek in objects_time: most batches find nothing old
	// enough and skip the delete's transaction.
	var oldest sql.NullInt64
	if err := s.w.conn.QueryRowContext(ctx, "SELECT min(time) FROM objects").Scan(&oldest); err == nil && oldest.Valid && oldest.Int64 < cutoff {
		if err := s.deleteObjects(ctx, "DELETE FROM objects WHERE time < ?", cutoff); err != nil {
			s.opts.Logger.Warn("history retention by age failed", "path", s.path, "err", oneLine(err.Error()))
		}
	}
	size := s.size(ctx)
	if size <= s.opts.MaxBytes {
		s.bytes.Store(size)
		return
	}
	// Prune down to 90% so that retention does not run on every batch.
	target := s.opts.MaxBytes * 9 / 10
	for range 20 {
		// Rows are only ever removed from the oldest end, so min and max count them
		// without the scan count(*) would be.
		var minRow, maxRow sql.NullInt64
		if err := s.w.conn.QueryRowContext(ctx, "SELECT min(row), max(row) FROM objects").Scan(&minRow, &maxRow); err != nil || !minRow.Valid {
			break
		}
		rows := sql.NullInt64{Int64: maxRow.Int64 - minRow.Int64 + 1}
		dbBytes := s.dbSize(ctx)
		perRow := max(dbBytes/rows.Int64, 1)
		chunk := min(max((size-target)/perRow+1, 10), rows.Int64)
		upTo := minRow.Int64 + chunk
		if err := s.deleteObjects(ctx, "DELETE FROM objects WHERE row < ?", upTo); err != nil {
			s.opts.Logger.Warn("history retention by size failed", "path", s.path, "err", oneLine(err.Error()))
			break
		}
		s.w.conn.ExecContext(ctx, "PRAGMA incremental_vacuum")
		s.w.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		size = s.size(ctx)
		if size <= target {
			break
		}
	}
	s.bytes.Store(size)
}

// deleteObjects runs a delete of objects with one argument and retires the keys of
// the rows it removed, in one transaction. Retention removes the oldest objects, so
// keys go by row below the oldest row left: whole buckets, and part of one. A key
// whose object went by age while an older one stays (times are not quite in row
// order) waits for that one to go: a query joins keys to objects, so it finds nothing.
func (s *Store) deleteObjects(ctx context.Context, q string, arg int64) error {
	w := s.w
	if err := w.begin(ctx); err != nil {
		return err
	}
	err := w.deleteObjects(ctx, q, arg)
	if err == nil {
		err = w.commit(ctx)
	}
	if err != nil {
		w.rollback(ctx)
	}
	return err
}

func (w *writeConn) deleteObjects(ctx context.Context, q string, arg int64) error {
	res, err := w.conn.ExecContext(ctx, q, arg)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	var oldest sql.NullInt64
	if err := w.conn.QueryRowContext(ctx, "SELECT min(row) FROM objects").Scan(&oldest); err != nil {
		return err
	}
	if !oldest.Valid {
		_, err := w.conn.ExecContext(ctx, "DELETE FROM keys")
		return err
	}
	bucket := oldest.Int64 >> keyBucketShift
	if _, err := w.conn.ExecContext(ctx, "DELETE FROM keys WHERE bucket < ?", bucket); err != nil {
		return err
	}
	_, err = w.conn.ExecContext(ctx, "DELETE FROM keys WHERE bucket = ? AND row < ?", bucket, oldest.Int64)
	return err
}

func (s *Store) dbSize(ctx context.Context) int64 {
	var pages int64
	s.w.conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
	return pages * s.w.pageSize
}

func (s *Store) size(ctx context.Context) int64 {
	size := s.dbSize(ctx)
	if fi, err := os.Stat(s.path + "-wal"); err == nil {
		size += fi.Size()
	}
	return size
}
