package trackertest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// Table is the part of an inspector that holds the session table: *inspector.Inspector
// is one.
type Table interface {
	Settled(ctx context.Context) (bool, error)
	Sessions(q tracker.Query) (tracker.Page, error)
}

// TableRefs pages the refs of every session in the table out of sessions (an
// inspector's Sessions method).
func TableRefs(sessions func(tracker.Query) (tracker.Page, error)) (map[string]bool, error) {
	refs := map[string]bool{}
	q := tracker.Query{Limit: 1000}
	for {
		page, err := sessions(q)
		if err != nil {
			return nil, fmt.Errorf("sessions: %w", err)
		}
		for _, row := range page.Rows {
			refs[row.Ref] = true
		}
		if q.Cursor = page.Next; q.Cursor == "" {
			return refs, nil
		}
	}
}

// TableDiff is how a session table differs from the store's key set, both as refs.
type TableDiff struct {
	Store, Table int      // how many refs each side holds
	Missing      []string // in the store, not in the table; sorted
	Phantom      []string // in the table, not in the store; sorted
}

// DiffTable compares the table's refs with the store's.
func DiffTable(table, store map[string]bool) TableDiff {
	d := TableDiff{Store: len(store), Table: len(table)}
	for ref := range store {
		if !table[ref] {
			d.Missing = append(d.Missing, ref)
		}
	}
	for ref := range table {
		if !store[ref] {
			d.Phantom = append(d.Phantom, ref)
		}
	}
	slices.Sort(d.Missing)
	slices.Sort(d.Phantom)
	return d
}

// Equal reports whether nothing is missing and nothing is phantom.
func (d TableDiff) Equal() bool { return len(d.Missing) == 0 && len(d.Phantom) == 0 }

// String summarises d with the first five refs of each side, enough to look one up.
func (d TableDiff) String() string {
	return fmt.Sprintf("store %d, table %d: %d missing %v, %d phantom %v", d.Store, d.Table,
		len(d.Missing), d.Missing[:min(5, len(d.Missing))], len(d.Phantom), d.Phantom[:min(5, len(d.Phantom))])
}

// WaitTableMatchesKeys waits until table, once settled, holds exactly the refs keys
// lists: 0 missing, 0 phantom. Sessions may keep expiring while it waits, so it
// compares until one comparison agrees rather than once.
func WaitTableMatchesKeys(t testing.TB, table Table, what string, limit time.Duration, keys func() (map[string]bool, error)) {
	t.Helper()
	Eventually(t, what, limit, func() (bool, string) {
		settled, err := table.Settled(context.Background())
		if err != nil || !settled {
			return false, "tracker still busy"
		}
		store, err := keys()
		if err != nil {
			return false, "store keys: " + err.Error()
		}
		refs, err := TableRefs(table.Sessions)
		if err != nil {
			return false, err.Error()
		}
		d := DiffTable(refs, store)
		return d.Equal(), d.String()
	})
}
