package history

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// writerPragmas tune the writer's own connection (with the WAL's size, walPages): the
// readers' connections keep SQLite's defaults, so that a reader does not hold a big
// cache for a query or two. Each of these pragmas holds for one connection only.
//   - cache_size: 16 MiB, which holds the dirty pages of the biggest batch (maxBatch
//     objects, some 5 MiB with their index entries), so that none is spilled to the
//     WAL before the commit (pagerStress), and the pages the next batch goes on with
//     (the newest key bucket, the indexes' right edges). It stays valid between
//     transactions because this connection is the only one that writes. 64 MiB
//     measured no faster, and would be 48 MiB more RSS.
//
// synchronous=NORMAL (in the DSN, for every connection) is safe with WAL: the WAL is
// synced at checkpoints, not at each commit, so a power loss or an OS crash may lose
// the last transactions but never corrupts the file (a crash of sessionscope alone
// loses nothing), and the next run records the time since the last write that
// survived as a gap.
var writerPragmas = []string{
	"PRAGMA cache_size=-16384",
}

// Rows per multi-row INSERT, largest first: a batch is written in as few statements
// as these sizes allow, each prepared once for the run. One statement per row cost
// the writer a database/sql round trip and a VDBE start per row.
var (
	objectChunks = []int{128, 32, 8, 1}
	keyChunks    = []int{256, 64, 16, 4, 1}
)

// writeConn is the writer's connection and its statements, prepared once for the
// run. Only the writer goroutine (and Open, before it starts) uses it.
type writeConn struct {
	conn      *sql.Conn
	objects   map[int]*sql.Stmt // INSERT of n objects rows, by n
	keys      map[int]*sql.Stmt // INSERT OR IGNORE of n keys rows, by n
	lastWrite *sql.Stmt
	pageSize  int64 // fixed once the file exists

	// Reused from batch to batch.
	rows  []objectRow
	keyed []keyRow
	json  []byte
	args  []any
}

type objectRow struct {
	row        int64
	typ, kind  string
	time, seq  int64
	start, end int // the object's JSON in writeConn.json
}

type keyRow struct {
	key string
	row int64
}

// walPages is the WAL's size, in pages, at which the writer checkpoints: 5% of
// maxBytes, so that the WAL stays a small part of the retention limit, and at most
// maxWALPages. A bigger WAL checkpoints less often, and a page written by several
// batches in between (the newest key bucket's, the indexes' last) is copied once.
func walPages(maxBytes int64) int64 {
	return max(16, min(maxBytes/4096/20, maxWALPages))
}

const maxWALPages = 8192 // 32 MiB

func openWriteConn(ctx context.Context, db *sql.DB, maxBytes int64) (*writeConn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	w := &writeConn{conn: conn, objects: map[int]*sql.Stmt{}, keys: map[int]*sql.Stmt{}}
	pages := walPages(maxBytes)
	pragmas := append(slices.Clip(writerPragmas),
		fmt.Sprintf("PRAGMA wal_autocheckpoint=%d", pages),
		// A checkpoint reuses the WAL from its start but keeps its size; this limit
		// truncates it back, so one big batch does not hold disk space for the run.
		fmt.Sprintf("PRAGMA journal_size_limit=%d", pages*4096))
	if err := w.prepare(ctx, pragmas); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *writeConn) prepare(ctx context.Context, pragmas []string) error {
	for _, p := range pragmas {
		if _, err := w.conn.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	var err error
	for _, n := range objectChunks {
		if w.objects[n], err = w.conn.PrepareContext(ctx,
			"INSERT INTO objects(row, type, time, seq, kind, json) VALUES"+valuesList(n, 6)); err != nil {
			return err
		}
	}
	for _, n := range keyChunks {
		if w.keys[n], err = w.conn.PrepareContext(ctx,
			"INSERT OR IGNORE INTO keys(bucket, key, row) VALUES"+valuesList(n, 3)); err != nil {
			return err
		}
	}
	if w.lastWrite, err = w.conn.PrepareContext(ctx, "UPDATE runs SET last_write = ? WHERE id = ?"); err != nil {
		return err
	}
	return w.conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&w.pageSize)
}

// valuesList is "(?,?),(?,?)..." for n rows of cols columns.
func valuesList(n, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", n), ",")
}

func (w *writeConn) close() {
	for _, st := range w.objects {
		st.Close()
	}
	for _, st := range w.keys {
		st.Close()
	}
	if w.lastWrite != nil {
		w.lastWrite.Close()
	}
	w.conn.Close()
}

// begin starts a write transaction that takes the write lock at once, so that it is
// never retried half-way through as a deferred one would be.
func (w *writeConn) begin(ctx context.Context) error {
	_, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	return err
}

func (w *writeConn) commit(ctx context.Context) error {
	_, err := w.conn.ExecContext(ctx, "COMMIT")
	return err
}

// rollback ends a failed transaction; SQLite may have rolled it back already (a full
// disk does), so its own error says nothing new.
func (w *writeConn) rollback(ctx context.Context) {
	w.conn.ExecContext(ctx, "ROLLBACK")
}

// insertObjects writes objs and their keys inside the open transaction and returns
// the last row written (0: none; status objects are not history). Rows are numbered
// here, after the newest row and after floor (the last row this run wrote: rows never
// go back, even when retention has emptied the table, so that --follow misses
// nothing), so that keys are known before any insert: objects go
// in as a few multi-row INSERTs, and keys sorted in the index's order, so that each
// page they land on is visited once per batch.
func (w *writeConn) insertObjects(ctx context.Context, floor int64, objs ...[]model.Object) (int64, error) {
	var newest sql.NullInt64
	if err := w.conn.QueryRowContext(ctx, "SELECT max(row) FROM objects").Scan(&newest); err != nil {
		return 0, err
	}
	row := max(newest.Int64, floor)
	w.rows, w.keyed, w.json = w.rows[:0], w.keyed[:0], w.json[:0]
	for _, part := range objs {
		for _, o := range part {
			typ, kind, keys := describe(o)
			if typ == "" {
				continue
			}
			start := len(w.json)
			var err error
			if w.json, err = appendJSON(w.json, o); err != nil {
				return 0, err
			}
			row++
			w.rows = append(w.rows, objectRow{row: row, typ: typ, kind: kind,
				time: objectTime(o).UnixNano(), seq: int64(o.ObjectSeq()), start: start, end: len(w.json)})
			for _, k := range keys {
				w.keyed = append(w.keyed, keyRow{k, row})
			}
		}
	}
	if len(w.rows) == 0 {
		return 0, nil
	}
	if err := w.insertChunks(ctx, w.objects, objectChunks, len(w.rows), func(args []any, i int) []any {
		r := &w.rows[i]
		return append(args, r.row, r.typ, r.time, r.seq, r.kind, w.json[r.start:r.end])
	}); err != nil {
		return 0, err
	}
	slices.SortFunc(w.keyed, func(a, b keyRow) int {
		if c := cmp.Compare(a.row>>keyBucketShift, b.row>>keyBucketShift); c != 0 {
			return c
		}
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	if err := w.insertChunks(ctx, w.keys, keyChunks, len(w.keyed), func(args []any, i int) []any {
		k := &w.keyed[i]
		return append(args, k.row>>keyBucketShift, k.key, k.row)
	}); err != nil {
		return 0, err
	}
	return row, nil
}

// insertChunks runs the statements of stmts (by rows, sizes largest first) over n
// rows, appending the arguments of row i with add.
func (w *writeConn) insertChunks(ctx context.Context, stmts map[int]*sql.Stmt, sizes []int, n int, add func(args []any, i int) []any) error {
	i := 0
	for _, size := range sizes {
		for ; n-i >= size; i += size {
			args := w.args[:0]
			for j := i; j < i+size; j++ {
				args = add(args, j)
			}
			_, err := stmts[size].ExecContext(ctx, args...)
			clear(args) // drop references to the batch's strings and JSON
			w.args = args[:0]
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writeConn) setLastWrite(ctx context.Context, now time.Time, runID int64) error {
	_, err := w.lastWrite.ExecContext(ctx, now.UnixNano(), runID)
	return err
}

// describe returns an object's type, kind and index keys; an empty type for what is
// not history (status objects).
func describe(o model.Object) (typ, kind string, keys []string) {
	switch v := o.(type) {
	case *model.Event:
		return model.TypeEvent, string(v.Kind), eventKeys(v)
	case *model.Exchange:
		return model.TypeExchange, "", exchangeKeys(v)
	case *model.Finding:
		for _, ref := range v.Sessions {
			keys = append(keys, "r:"+ref)
		}
		return model.TypeFinding, v.Rule, keys
	}
	return "", "", nil
}

// appendJSON appends o's JSON contract to dst. Exchanges and events are written
// without reflection (and, for an exchange, without json.Marshal's second pass over
// what MarshalJSON returned); findings, one object in a thousand, use json.Marshal.
func appendJSON(dst []byte, o model.Object) ([]byte, error) {
	switch v := o.(type) {
	case *model.Exchange:
		return v.AppendJSON(dst)
	case *model.Event:
		return v.AppendJSON(dst)
	}
	data, err := json.Marshal(o)
	if err != nil {
		return dst, err
	}
	return append(dst, data...), nil
}
