package inspector_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

var pastBase = time.Date(2026, 12, 7, 14, 2, 5, 123_000_000, time.UTC)

// pastEvent is an event of the store at pastBase+sec seconds; from is "" or a ref.
func pastEvent(sec int, kind model.Kind, ref, from string) *model.Event {
	e := &model.Event{Type: model.TypeEvent, Seq: uint64(sec + 1), Time: pastBase.Add(time.Duration(sec) * time.Second), Kind: kind,
		Backend: "redis", Session: &model.SessionInfo{Ref: ref, ID: ref[:4] + "…" + ref[10:], Framework: "php"}}
	if from != "" {
		e.From = &model.SessionInfo{Ref: from, ID: from[:4] + "…" + from[10:], Framework: "php"}
		e.Evidence = model.EvidencePayload
	}
	return e
}

func oldKept(e *model.Event) *model.Event { e.OldKept = true; return e }

func withCandidates(e *model.Event, refs ...string) *model.Event {
	for _, r := range refs {
		e.Candidates = append(e.Candidates, model.SessionInfo{Ref: r})
	}
	return e
}

const (
	refA = "aaaaaaaaaaaa"
	refB = "bbbbbbbbbbbb"
	refC = "cccccccccccc"
)

func TestPastOf(t *testing.T) {
	at := func(sec int) time.Time { return pastBase.Add(time.Duration(sec) * time.Second) }
	for _, tc := range []struct {
		name   string
		ref    string
		events []*model.Event
		want   inspector.Past
		known  bool
	}{
		{"created", refA, []*model.Event{pastEvent(0, model.KindCreated, refA, ""), pastEvent(3, model.KindUpdated, refA, "")},
			inspector.Past{Born: at(0), BornKind: model.KindCreated, BornSeq: 1}, true},
		{"regenerated from another", refB, []*model.Event{pastEvent(0, model.KindCreated, refA, ""), pastEvent(2, model.KindRegenerated, refB, refA)},
			inspector.Past{Born: at(2), BornKind: model.KindRegenerated, BornSeq: 3, From: refA, Evidence: model.EvidencePayload}, true},
		{"regenerated to another, its key kept", refA, []*model.Event{pastEvent(0, model.KindCreated, refA, ""), oldKept(pastEvent(2, model.KindRegenerated, refB, refA))},
			inspector.Past{Born: at(0), BornKind: model.KindCreated, BornSeq: 1, To: refB}, true},
		{"regenerated away: that life ended", refA, []*model.Event{pastEvent(0, model.KindCreated, refA, ""), pastEvent(2, model.KindRegenerated, refB, refA)},
			inspector.Past{Born: at(0), BornKind: model.KindCreated, BornSeq: 1, EndedAt: at(2), EndedKind: model.KindRegenerated}, true},
		{"destroyed, then born again: the later life", refA, []*model.Event{pastEvent(0, model.KindCreated, refA, ""),
			pastEvent(1, model.KindDestroyed, refA, ""), pastEvent(5, model.KindCreated, refA, "")},
			inspector.Past{Born: at(5), BornKind: model.KindCreated, BornSeq: 6}, true},
		{"expired with no birth recorded", refA, []*model.Event{pastEvent(0, model.KindTouched, refA, ""), pastEvent(4, model.KindExpired, refA, "")},
			inspector.Past{EndedAt: at(4), EndedKind: model.KindExpired}, true},
		{"only named as a candidate", refA, []*model.Event{withCandidates(pastEvent(0, model.KindCreated, refC, ""), refA)}, inspector.Past{}, false},
		{"only updates", refA, []*model.Event{pastEvent(0, model.KindUpdated, refA, "")}, inspector.Past{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, known := inspector.PastOf(tc.ref, tc.events)
			if known != tc.known || got != tc.want {
				t.Errorf("PastOf(%s) = %+v, %v; want %+v, %v", tc.ref, got, known, tc.want, tc.known)
			}
		})
	}
}

// recordRun writes events to the history file at path as one run, and closes it.
func recordRun(t testing.TB, path string, events ...*model.Event) {
	t.Helper()
	st, err := history.Open(history.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		st.Append(e)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// inspectorOn is an Inspector of a second run over the history at path ("": none).
func inspectorOn(t testing.TB, path string) *inspector.Inspector {
	t.Helper()
	cfg := inspector.Config{}
	if path != "" {
		st, err := history.Open(history.Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg.History = st
	}
	return inspector.New(memory.New(memory.Options{}), cfg)
}

// TestSessionPast: a second run asks the history, in one call, for the past of the
// sessions its inventory found: births, lineage, and lives that ended before the key
// it found was born. The gap of the time it was not running is there too.
func TestSessionPast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	recordRun(t, path,
		pastEvent(0, model.KindCreated, refA, ""),
		oldKept(pastEvent(2, model.KindRegenerated, refB, refA)),
		pastEvent(3, model.KindUpdated, refB, ""),
		pastEvent(4, model.KindCreated, refC, ""),
		pastEvent(5, model.KindDestroyed, refC, ""), // the refC the store holds now is a later life
	)
	in := inspectorOn(t, path)
	ctx := context.Background()
	past, err := in.SessionPast(ctx, []string{refA, refB, refC, "dddddddddddd", refA})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]inspector.Past{
		refA: {Born: pastBase, BornKind: model.KindCreated, BornSeq: 1, To: refB},
		refB: {Born: pastBase.Add(2 * time.Second), BornKind: model.KindRegenerated, BornSeq: 3, From: refA, Evidence: model.EvidencePayload},
		refC: {EndedAt: pastBase.Add(5 * time.Second), EndedKind: model.KindDestroyed},
	}
	if len(past) != len(want) {
		t.Errorf("SessionPast knows %d sessions, want %d: %+v", len(past), len(want), past)
	}
	for ref, w := range want {
		if got := past[ref]; !got.Born.Equal(w.Born) || !got.EndedAt.Equal(w.EndedAt) || got.From != w.From || got.To != w.To ||
			got.Evidence != w.Evidence || got.BornKind != w.BornKind || got.EndedKind != w.EndedKind {
			t.Errorf("past of %s = %+v, want %+v", ref, got, w)
		}
	}

	// The one query it asks: by several refs at once, of some kinds only.
	objs, err := in.History(ctx, history.Query{Refs: []string{refA, refC}, Kinds: []string{string(model.KindCreated)}})
	if err != nil || len(objs) != 2 {
		t.Errorf("history of %s and %s, created only: %d objects, %v; want their two births", refA, refC, len(objs), err)
	}

	gaps, err := in.Gaps(ctx, pastBase, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 1 || gaps[0].Backend != history.BackendHistory || !strings.Contains(gaps[0].Reason, "not running") {
		t.Errorf("gaps since the first run: %+v; want the gap of the time sessionscope was not running", gaps)
	}
	if gaps, _ := in.Gaps(ctx, time.Now().Add(time.Hour), time.Time{}); len(gaps) != 0 {
		t.Errorf("gaps from an hour ahead: %+v, want none", gaps)
	}

	if _, err := in.SessionPast(ctx, make([]string, 1001)); err != nil {
		t.Errorf("1001 empty refs are none: %v", err)
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("%012x", i)
	}
	if _, err := in.SessionPast(ctx, many); err == nil || !strings.Contains(err.Error(), "one page") {
		t.Errorf("SessionPast of 1001 refs: %v; want an error asking for a page", err)
	}

	// Without a history: nothing known, no error.
	if past, err := inspectorOn(t, "").SessionPast(ctx, []string{refA}); err != nil || len(past) != 0 {
		t.Errorf("SessionPast without history = %v, %v; want empty, no error", past, err)
	}
}

// benchHistory is a history of 20,000 sessions each with a birth and 10 updates
// (220,000 events) written by a first run, opened by a second: the shape of a
// restart on a busy store.
func benchHistory(b *testing.B) (*inspector.Inspector, int) {
	path := filepath.Join(b.TempDir(), "history.db")
	const sessions, updates = 20_000, 10
	st, err := history.Open(history.Options{Path: path, QueueSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	for i := range sessions {
		ref := fmt.Sprintf("%012x", i)
		st.Append(pastEvent(i, model.KindCreated, ref, ""))
		for j := range updates {
			st.Append(pastEvent(i+j+1, model.KindUpdated, ref, ""))
		}
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	return inspectorOn(b, path), sessions
}

// BenchmarkSessionPast is the Sessions screen's cost after a restart: the past of one
// page of 50 sessions found by the inventory.
func BenchmarkSessionPast(b *testing.B) {
	in, sessions := benchHistory(b)
	page := make([]string, 50)
	for i := range page {
		page[i] = fmt.Sprintf("%012x", i*(sessions/len(page)))
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		past, err := in.SessionPast(ctx, page)
		if err != nil || len(past) != len(page) {
			b.Fatalf("past of a page: %d known, %v", len(past), err)
		}
	}
}

// BenchmarkGaps is what a session page pays for the gaps of a life as long as the
// whole history: every object written since its birth may be looked at.
func BenchmarkGaps(b *testing.B) {
	in, _ := benchHistory(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		gaps, err := in.Gaps(ctx, pastBase, time.Time{})
		if err != nil || len(gaps) != 1 {
			b.Fatalf("gaps: %d, %v; want the restart's", len(gaps), err)
		}
	}
}
