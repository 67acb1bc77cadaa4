package history

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestQueryPlans checks that every filter of Query is served by an index (or, for
// events and AfterRow, by the rows' own order), on the schema this build writes: a
// filter that scans the whole file would be slow on a full 1 GiB history.
func TestQueryPlans(t *testing.T) {
	s := openTest(t, Options{Now: func() time.Time { return t0 }})
	tests := []struct {
		name string
		q    Query
		want []string // each plan line must contain one of these, in order
	}{
		{"all", Query{}, []string{"SCAN objects"}},
		{"newest", Query{Newest: true}, []string{"SCAN objects"}},
		{"after row", Query{AfterRow: 5}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid>?)"}},
		{"from", Query{From: t0}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid>?)", "SEARCH objects USING COVERING INDEX objects_time (time>?)"}},
		{"from after row", Query{From: t0, AfterRow: 5}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid>?)"}},
		{"to newest", Query{To: t0, Newest: true}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid<?)", "SEARCH objects USING COVERING INDEX objects_time (time<?)"}},
		{"from and to", Query{From: t0, To: t0.Add(time.Hour)}, []string{"SEARCH objects USING", "SEARCH objects USING COVERING INDEX objects_time"}},
		{"events", Query{Types: []string{model.TypeEvent}}, []string{"SCAN objects"}},
		{"findings", Query{Types: []string{model.TypeFinding}}, []string{"SEARCH objects USING INDEX objects_rare (type=?)", "TEMP B-TREE"}},
		{"exchanges and findings", Query{Types: []string{model.TypeExchange, model.TypeFinding}}, []string{"SEARCH objects USING INDEX objects_rare (type=?)", "TEMP B-TREE"}},
		{"rule", Query{Rule: "login-loop"}, []string{"SEARCH objects USING INDEX objects_rare (type=? AND kind=?)"}},
		{"ref", Query{Ref: "0123456789ab"}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid=?)", "LIST SUBQUERY", "SEARCH keys USING PRIMARY KEY (bucket=? AND key=?)", "MATERIALIZE buckets"}},
		{"refs", Query{Refs: []string{"0123456789ab", "ba9876543210"}}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid=?)", "LIST SUBQUERY", "SEARCH keys USING PRIMARY KEY (bucket=? AND key=?)"}},
		{"id prefix", Query{IDPrefix: "abcd"}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid=?)", "LIST SUBQUERY", "SEARCH keys USING PRIMARY KEY (bucket=? AND key>? AND key<?)"}},
		{"gaps since", Query{From: t0, Types: []string{model.TypeEvent}, Kinds: []string{string(model.KindGap)}, Limit: 200, Newest: true}, []string{"objects_gaps"}},
		{"ref after row", Query{Ref: "0123456789ab", AfterRow: 5}, []string{"SEARCH objects USING INTEGER PRIMARY KEY (rowid=?)", "LIST SUBQUERY", "SEARCH keys USING PRIMARY KEY (bucket=? AND key=?)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sqlText, args := selectSQL(tc.q)
			rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+sqlText, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN objects") && tc.want[0] != "SCAN objects" {
					t.Fatalf("plan scans objects:\n%s", text)
				}
				if strings.HasPrefix(line, "SCAN keys") {
					t.Fatalf("plan scans keys:\n%s", text)
				}
			}
			at := 0
			for _, w := range tc.want {
				i := indexFrom(plan, at, w)
				if i < 0 {
					t.Fatalf("plan lacks %q (after line %d):\n%s", w, at, text)
				}
				at = i + 1
			}
		})
	}
}

func indexFrom(lines []string, from int, sub string) int {
	for i := from; i < len(lines); i++ {
		if strings.Contains(lines[i], sub) {
			return i
		}
	}
	return -1
}
