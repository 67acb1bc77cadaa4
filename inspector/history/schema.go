package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// schemaVersion is the PRAGMA user_version this build writes. A file with a lower
// version is migrated step by step; a higher one is refused (its layout is unknown).
const schemaVersion = 3

// migrations[n] brings a file from version n to n+1, in one transaction.
var migrations = []func(ctx context.Context, tx *sql.Tx) error{
	0: migrateCreate,
	1: migrateMaskedIDs,
	2: migrateKeyBuckets,
}

// keyBucketShift groups keys by row: a key of row r is in bucket r>>keyBucketShift
// (8192 objects). The file depends on it: changing it takes a migration.
const keyBucketShift = 13

// migrateCreate creates schema 1.
//   - objects: one row per stored object, its JSON contract as written by watch --json;
//     kind is the event kind or the finding rule. time is unix nanoseconds.
//   - keys: ("r:" + session ref, row) for Query.Ref. WITHOUT ROWID: the key is the table.
//   - runs: each sessionscope run and its last write, for the restart gap.
func migrateCreate(ctx context.Context, tx *sql.Tx) error {
	return execAll(ctx, tx,
		`CREATE TABLE objects (
			row  INTEGER PRIMARY KEY,
			type TEXT NOT NULL,
			time INTEGER NOT NULL,
			seq  INTEGER NOT NULL,
			kind TEXT NOT NULL,
			json BLOB NOT NULL)`,
		`CREATE INDEX objects_time ON objects(time)`,
		`CREATE INDEX objects_kind ON objects(type, kind)`,
		`CREATE TABLE keys (key TEXT NOT NULL, row INTEGER NOT NULL, PRIMARY KEY(key, row)) WITHOUT ROWID`,
		`CREATE INDEX keys_row ON keys(row)`,
		`CREATE TABLE runs (id INTEGER PRIMARY KEY, start INTEGER NOT NULL, last_write INTEGER NOT NULL)`,
	)
}

// migrateMaskedIDs adds ("i:" + masked id, row) keys for Query.IDPrefix, read back from
// the events already stored.
func migrateMaskedIDs(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT row, json FROM objects WHERE type = 'event'`)
	if err != nil {
		return err
	}
	type rowKeys struct {
		row  int64
		keys []string
	}
	var all []rowKeys
	for rows.Next() {
		var row int64
		var data []byte
		if err := rows.Scan(&row, &data); err != nil {
			rows.Close()
			return err
		}
		var e eventIDs
		if json.Unmarshal(data, &e) != nil {
			continue // an undecodable row stays, without id keys: Query skips it anyway
		}
		all = append(all, rowKeys{row, e.maskedIDKeys()})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		for _, k := range r.keys {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO keys(key, row) VALUES(?, ?)`, k, r.row); err != nil {
				return err
			}
		}
	}
	return nil
}

// migrateKeyBuckets (schema 3) makes the writer's work proportional to what it
// writes, not to the size of the file:
//   - keys are ordered by (bucket, key, row). Ordered by key alone, each batch's keys
//     (two or more per object, sessions all over) landed on as many pages of the
//     index once the file was big, each page written whole (4 KiB) to the WAL and
//     again at the checkpoint, for a key of 30 bytes. Now a batch writes into the
//     newest bucket only, about a hundred pages. A query by ref seeks once per
//     bucket: some 300 seeks, a few milliseconds, in a full 1 GiB file.
//   - keys_row goes: retention deletes whole buckets (a range of the primary key) and
//     part of one.
//   - objects_kind (type, kind) becomes objects_rare, over exchanges and findings only:
//     events, nine objects in ten, are read in row order anyway (a type filter that
//     includes them scans rows, which stops at Limit), and their index entries cost
//     every write.
func migrateKeyBuckets(ctx context.Context, tx *sql.Tx) error {
	return execAll(ctx, tx,
		`CREATE TABLE keys_v3 (
			bucket INTEGER NOT NULL,
			key    TEXT NOT NULL,
			row    INTEGER NOT NULL,
			PRIMARY KEY(bucket, key, row)) WITHOUT ROWID`,
		fmt.Sprintf(`INSERT INTO keys_v3(bucket, key, row) SELECT row >> %d, key, row FROM keys ORDER BY 1, 2, 3`, keyBucketShift),
		`DROP TABLE keys`, // and keys_row with it
		`ALTER TABLE keys_v3 RENAME TO keys`,
		`DROP INDEX objects_kind`,
		`CREATE INDEX objects_rare ON objects(type, kind) WHERE type <> 'event'`,
		// Gaps are rare too, and a session's page asks for those of its life (where
		// its events may be missing): without this it scanned every row since.
		`CREATE INDEX objects_gaps ON objects(time) WHERE kind = 'gap'`,
	)
}

// eventIDs is the part of an event's JSON that holds masked ids.
type eventIDs struct {
	Session    *struct{ ID string }  `json:"session"`
	From       *struct{ ID string }  `json:"from"`
	Candidates []struct{ ID string } `json:"candidates"`
}

func (e eventIDs) maskedIDKeys() []string {
	var keys []string
	if e.Session != nil && e.Session.ID != "" {
		keys = append(keys, "i:"+e.Session.ID)
	}
	if e.From != nil && e.From.ID != "" {
		keys = append(keys, "i:"+e.From.ID)
	}
	for _, c := range e.Candidates {
		if c.ID != "" {
			keys = append(keys, "i:"+c.ID)
		}
	}
	return keys
}

func migrate(ctx context.Context, conn *sql.Conn, from int) error {
	for v := from; v < schemaVersion; v++ {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := migrations[v](ctx, tx); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrating schema %d to %d: %w", v, v+1, err)
		}
		// PRAGMA takes no parameters; v+1 is ours.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version=%d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func execAll(ctx context.Context, tx *sql.Tx, stmts ...string) error {
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
