package history

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// maxRune bounds a prefix range: every key that starts with p sorts below p+maxRune.
const maxRune = "\U0010FFFF"

// Page is what QueryPage returns: the objects, oldest first, and the row each was
// stored in (Rows[i] is Objects[i]'s), so that a reader can page on exactly with
// Query.AfterRow, whatever the objects' times.
type Page struct {
	Objects []model.Object
	Rows    []int64
}

// Query returns the objects q selects, oldest first (by row, the order they were
// written). Each filter is served by an index: time, keys (ref, masked id) or
// objects_rare (exchanges and findings, a rule); events are read in row order. A row
// that does not decode is skipped and counted.
func (s *Store) Query(ctx context.Context, q Query) ([]model.Object, error) {
	p, err := s.QueryPage(ctx, q)
	return p.Objects, err
}

// QueryPage is Query with each object's row.
func (s *Store) QueryPage(ctx context.Context, q Query) (Page, error) {
	sqlText, args := selectSQL(q)
	rows, err := s.db.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return Page{}, fmt.Errorf("history %s: query: %w", s.path, err)
	}
	defer rows.Close()
	var out Page
	for rows.Next() {
		var row int64
		var typ string
		var data []byte
		if err := rows.Scan(&row, &typ, &data); err != nil {
			return Page{}, fmt.Errorf("history %s: query: %w", s.path, err)
		}
		o, err := decode(typ, data)
		if err != nil {
			s.skipped.Add(1)
			continue
		}
		out.Objects = append(out.Objects, o)
		out.Rows = append(out.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("history %s: query: %w", s.path, err)
	}
	if q.Newest {
		slices.Reverse(out.Objects)
		slices.Reverse(out.Rows)
	}
	return out, nil
}

// selectSQL is the statement QueryPage runs for q, and its arguments.
func selectSQL(q Query) (string, []any) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var where []string
	var args []any
	gapsOnly := false
	// Rows are read in row order, so a time bound on the side they are read from
	// also bounds the rows, found in objects_time without reading a row: else
	// "oldest first from 14:02" reads every row before 14:02 to skip it. (Times are
	// nearly, not exactly, in row order: min and max over the time range keep it
	// exact. INDEXED BY: for min(row) SQLite would rather walk the rows from the
	// first.) A page after AfterRow starts from that row instead.
	var timeRange string
	var timeArgs []any
	if !q.From.IsZero() {
		timeRange, timeArgs = "time >= ?", append(timeArgs, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		if timeRange != "" {
			timeRange += " AND "
		}
		timeRange, timeArgs = timeRange+"time <= ?", append(timeArgs, q.To.UnixNano())
	}
	if timeRange != "" {
		where, args = append(where, timeRange), append(args, timeArgs...)
		switch {
		case !q.Newest && !q.From.IsZero() && q.AfterRow <= 0:
			where = append(where, "row >= (SELECT min(row) FROM objects INDEXED BY objects_time WHERE "+timeRange+")")
			args = append(args, timeArgs...)
		case q.Newest && !q.To.IsZero():
			where = append(where, "row <= (SELECT max(row) FROM objects INDEXED BY objects_time WHERE "+timeRange+")")
			args = append(args, timeArgs...)
		}
	}
	if len(q.Types) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(q.Types)), ",")
		where = append(where, "type IN ("+marks+")")
		for _, t := range q.Types {
			args = append(args, t)
		}
	}
	if q.Ref != "" {
		where, args = append(where, "row IN (SELECT row FROM keys WHERE bucket IN (SELECT b FROM buckets) AND key = ?)"), append(args, "r:"+q.Ref)
	}
	if len(q.Refs) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(q.Refs)), ",")
		where = append(where, "row IN (SELECT row FROM keys WHERE bucket IN (SELECT b FROM buckets) AND key IN ("+marks+"))")
		for _, ref := range q.Refs {
			args = append(args, "r:"+ref)
		}
	}
	if len(q.Kinds) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(q.Kinds)), ",")
		where = append(where, "kind IN ("+marks+")")
		for _, k := range q.Kinds {
			args = append(args, k)
		}
		if len(q.Kinds) == 1 && q.Kinds[0] == string(model.KindGap) {
			where = append(where, "kind = 'gap'") // objects_gaps' WHERE, as the index needs it stated
			gapsOnly = true
		}
	}
	if q.IDPrefix != "" {
		p := "i:" + q.IDPrefix
		where = append(where, "row IN (SELECT row FROM keys WHERE bucket IN (SELECT b FROM buckets) AND key >= ? AND key < ?)")
		args = append(args, p, p+maxRune)
	}
	if q.Rule != "" {
		where, args = append(where, "type = 'finding' AND kind = ?"), append(args, q.Rule)
	}
	if q.Rule != "" || (len(q.Types) > 0 && !slices.Contains(q.Types, model.TypeEvent)) {
		// objects_rare indexes exchanges and findings only; SQLite uses a partial
		// index when the query states its WHERE term as such.
		where = append(where, "type <> 'event'")
	}
	if q.AfterRow > 0 {
		where, args = append(where, "row > ?"), append(args, q.AfterRow)
	}
	sqlText := "SELECT row, type, json FROM objects"
	if gapsOnly {
		// Gaps are a handful among millions of rows: SQLite, expecting LIMIT to stop
		// a walk of the rows early, would walk them all.
		sqlText += " INDEXED BY objects_gaps"
	}
	if q.Ref != "" || len(q.Refs) > 0 || q.IDPrefix != "" {
		// The buckets of keys to seek in, oldest to newest, in the statement itself so
		// that they and the rows are read from one snapshot. Rows after AfterRow are
		// in its bucket or later ones.
		sqlText = fmt.Sprintf(`WITH RECURSIVE buckets(b) AS (
			SELECT max((SELECT min(bucket) FROM keys), %d)
			UNION ALL SELECT b + 1 FROM buckets WHERE b < (SELECT max(bucket) FROM keys)) `,
			max(q.AfterRow, 0)>>keyBucketShift) + sqlText
	}
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Newest {
		sqlText += " ORDER BY row DESC"
	} else {
		sqlText += " ORDER BY row"
	}
	sqlText += " LIMIT ?"
	args = append(args, limit)
	return sqlText, args

}

func decode(typ string, data []byte) (model.Object, error) {
	var o model.Object
	switch typ {
	case model.TypeEvent:
		o = &model.Event{}
	case model.TypeExchange:
		o = &model.Exchange{}
	case model.TypeFinding:
		o = &model.Finding{}
	default:
		return nil, fmt.Errorf("unknown type %q", typ)
	}
	if err := json.Unmarshal(data, o); err != nil {
		return nil, err
	}
	return o, nil
}
