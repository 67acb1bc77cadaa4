package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// writer is the one goroutine that writes: it takes batches off the queue, one
// transaction each, then applies retention.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]model.Object, 0, batchSize)
	for {
		var flushed chan struct{}
		select {
		case o := <-s.queue:
			batch = append(batch, o)
			batch, flushed = s.fill(batch)
		case flushed = <-s.flushes:
			batch = s.drain(batch)
		case <-s.stop:
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

// drain adds to batch what is queued now, up to a full batch.
func (s *Store) drain(batch []model.Object) []model.Object {
	for len(batch) < batchSize {
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
	var gaps []*model.Event
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
	s.written.Add(int64(len(batch)))
	s.gaps.Add(int64(len(gaps)))
	s.retain()
}

func (s *Store) commit(batch []model.Object, gaps []*model.Event) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := s.prepareInserts(ctx, tx)
	if err != nil {
		return err
	}
	defer ins.close()
	var last int64
	for _, g := range gaps {
		if last, err = s.insert(ctx, ins, g); err != nil {
			return err
		}
	}
	for _, o := range batch {
		row, err := s.insert(ctx, ins, o)
		if err != nil {
			return err
		}
		last = max(last, row)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE runs SET last_write = ? WHERE id = ?", s.opts.Now().UnixNano(), s.runID); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if last > 0 {
		s.lastRow.Store(last)
	}
	return nil
}

// inserts are the statements of a batch, prepared once: parsing the SQL of each
// insert again cost a quarter of the writer's CPU.
type inserts struct {
	object, key *sql.Stmt
}

func (s *Store) prepareInserts(ctx context.Context, tx *sql.Tx) (*inserts, error) {
	object, err := tx.PrepareContext(ctx, "INSERT INTO objects(type, time, seq, kind, json) VALUES(?, ?, ?, ?, ?)")
	if err != nil {
		return nil, err
	}
	key, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO keys(key, row) VALUES(?, ?)")
	if err != nil {
		object.Close()
		return nil, err
	}
	return &inserts{object, key}, nil
}

func (i *inserts) close() {
	i.object.Close()
	i.key.Close()
}

// insert writes one object and its index keys, and returns its row (0: not stored).
func (s *Store) insert(ctx context.Context, ins *inserts, o model.Object) (int64, error) {
	var typ, kind string
	var keys []string
	switch v := o.(type) {
	case *model.Event:
		typ, kind = model.TypeEvent, string(v.Kind)
		keys = eventKeys(v)
	case *model.Exchange:
		typ = model.TypeExchange
		keys = exchangeKeys(v)
	case *model.Finding:
		typ, kind = model.TypeFinding, v.Rule
		for _, ref := range v.Sessions {
			keys = append(keys, "r:"+ref)
		}
	default:
		return 0, nil // status objects are not history
	}
	data, err := json.Marshal(o)
	if err != nil {
		return 0, err
	}
	res, err := ins.object.ExecContext(ctx,
		typ, objectTime(o).UnixNano(), int64(o.ObjectSeq()), kind, data)
	if err != nil {
		return 0, err
	}
	row, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if _, err := ins.key.ExecContext(ctx, k, row); err != nil {
			return 0, err
		}
	}
	return row, nil
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
	if _, err := s.exec(ctx,
		"DELETE FROM keys WHERE row IN (SELECT row FROM objects WHERE time < ?)",
		"DELETE FROM objects WHERE time < ?", cutoff); err != nil {
		s.opts.Logger.Warn("history retention by age failed", "path", s.path, "err", oneLine(err.Error()))
	}
	size := s.size(ctx)
	if size <= s.opts.MaxBytes {
		s.bytes.Store(size)
		return
	}
	// Prune down to 90% so that retention does not run on every batch.
	target := s.opts.MaxBytes * 9 / 10
	for range 20 {
		var rows, minRow sql.NullInt64
		if err := s.db.QueryRowContext(ctx, "SELECT count(*), min(row) FROM objects").Scan(&rows, &minRow); err != nil || rows.Int64 == 0 {
			break
		}
		dbBytes := s.dbSize(ctx)
		perRow := max(dbBytes/rows.Int64, 1)
		chunk := min(max((size-target)/perRow+1, 10), rows.Int64)
		upTo := minRow.Int64 + chunk
		if _, err := s.exec(ctx,
			"DELETE FROM keys WHERE row < ?",
			"DELETE FROM objects WHERE row < ?", upTo); err != nil {
			s.opts.Logger.Warn("history retention by size failed", "path", s.path, "err", oneLine(err.Error()))
			break
		}
		s.db.ExecContext(ctx, "PRAGMA incremental_vacuum")
		s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		size = s.size(ctx)
		if size <= target {
			break
		}
	}
	s.bytes.Store(size)
}

// exec runs two deletes with one argument in one transaction.
func (s *Store) exec(ctx context.Context, q1, q2 string, arg int64) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, q1, arg); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, q2, arg)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return n, tx.Commit()
}

func (s *Store) dbSize(ctx context.Context) int64 {
	var pages, pageSize int64
	s.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages)
	s.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize)
	return pages * pageSize
}

func (s *Store) size(ctx context.Context) int64 {
	size := s.dbSize(ctx)
	if fi, err := os.Stat(s.path + "-wal"); err == nil {
		size += fi.Size()
	}
	return size
}
