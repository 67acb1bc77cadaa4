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
// (type, kind) for a rule. A row that does not decode is skipped and counted.
func (s *Store) Query(ctx context.Context, q Query) ([]model.Object, error) {
	p, err := s.QueryPage(ctx, q)
	return p.Objects, err
}

// QueryPage is Query with each object's row.
func (s *Store) QueryPage(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var where []string
	var args []any
	if !q.From.IsZero() {
		where, args = append(where, "time >= ?"), append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		where, args = append(where, "time <= ?"), append(args, q.To.UnixNano())
	}
	if len(q.Types) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?,", len(q.Types)), ",")
		where = append(where, "type IN ("+marks+")")
		for _, t := range q.Types {
			args = append(args, t)
		}
	}
	if q.Ref != "" {
		where, args = append(where, "row IN (SELECT row FROM keys WHERE key = ?)"), append(args, "r:"+q.Ref)
	}
	if q.IDPrefix != "" {
		p := "i:" + q.IDPrefix
		where = append(where, "row IN (SELECT row FROM keys WHERE key >= ? AND key < ?)")
		args = append(args, p, p+maxRune)
	}
	if q.Rule != "" {
		where, args = append(where, "type = 'finding' AND kind = ?"), append(args, q.Rule)
	}
	if q.AfterRow > 0 {
		where, args = append(where, "row > ?"), append(args, q.AfterRow)
	}
	sqlText := "SELECT row, type, json FROM objects"
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
