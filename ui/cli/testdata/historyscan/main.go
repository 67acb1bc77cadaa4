// Command historyscan summarises a history file for TestIngest220kWithHistory: how many
// objects it holds, its history gaps, and where the seqs of the objects written skip.
// It is a program of its own, built without the race detector, because scanning a
// million rows through SQLite in a race-instrumented test process takes minutes.
//
// Usage: historyscan FILE; it prints one JSON object (see summary).
package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"

	_ "modernc.org/sqlite"

	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

type summary struct {
	Written int64  `json:"written"` // objects other than history gaps
	Gaps    []gap  `json:"gaps"`
	Jumps   []jump `json:"jumps"` // written objects, in row order, whose seq does not follow the one before
}

type gap struct {
	From    int64  `json:"from"` // unix ns
	To      int64  `json:"to"`
	Dropped int64  `json:"dropped"`
	Reason  string `json:"reason"`
}

type jump struct {
	AfterSeq  int64 `json:"after_seq"` // 0: the first object written
	Seq       int64 `json:"seq"`
	AfterTime int64 `json:"after_time"`
	Time      int64 `json:"time"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: historyscan FILE")
		os.Exit(2)
	}
	s, err := scan(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "historyscan: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(s); err != nil {
		os.Exit(1)
	}
}

// isHistoryGap selects the gaps the history recorded about itself (its own backend).
const isHistoryGap = `kind = 'gap' AND json_extract(json, '$.backend') = '` + history.BackendHistory + `'`

func scan(path string) (summary, error) {
	var s summary
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return s, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT json FROM objects WHERE ` + isHistoryGap)
	if err != nil {
		return s, fmt.Errorf("history gaps: %w", err)
	}
	for rows.Next() {
		var data []byte
		var e model.Event
		if err := rows.Scan(&data); err != nil {
			return s, err
		}
		if err := json.Unmarshal(data, &e); err != nil || e.FromTime == nil || e.ToTime == nil {
			return s, fmt.Errorf("history gap %s: %v", data, err)
		}
		s.Gaps = append(s.Gaps, gap{From: e.FromTime.UnixNano(), To: e.ToTime.UnixNano(), Dropped: e.Dropped, Reason: e.Reason})
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	if err := db.QueryRow(`SELECT count(*) FROM objects WHERE NOT (` + isHistoryGap + `)`).Scan(&s.Written); err != nil {
		return s, fmt.Errorf("count: %w", err)
	}
	rows, err = db.Query(`SELECT ps, seq, pt, time FROM (
		SELECT seq, time, lag(seq, 1, 0) OVER w AS ps, lag(time, 1, 0) OVER w AS pt
		FROM objects WHERE NOT (` + isHistoryGap + `) WINDOW w AS (ORDER BY row))
		WHERE seq > ps + 1`)
	if err != nil {
		return s, fmt.Errorf("seqs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var j jump
		if err := rows.Scan(&j.AfterSeq, &j.Seq, &j.AfterTime, &j.Time); err != nil {
			return s, err
		}
		s.Jumps = append(s.Jumps, j)
	}
	return s, rows.Err()
}
