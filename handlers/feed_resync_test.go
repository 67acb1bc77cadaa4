package handlers

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// TestFeedRowResync: a reconciliation after a gap reads as such on the Live feed, so
// that nobody takes an event reconstructed by a SCAN for one seen happening.
func TestFeedRowResync(t *testing.T) {
	from, to := time.Date(2026, 11, 22, 2, 4, 35, 0, time.UTC), time.Date(2026, 11, 22, 2, 4, 37, 0, time.UTC)
	sess := &model.SessionInfo{Ref: "583d16204f8f", ID: "q3hg…m9", Framework: "php"}
	cases := []struct {
		name string
		ev   *model.Event
		want []string
	}{
		{"gap", &model.Event{Kind: model.KindGap, Backend: "redis", FromTime: &from, ToTime: &to, Reason: "disconnected from Redis"},
			[]string{"events may have been lost between", "disconnected from Redis"}},
		{"resynced", &model.Event{Kind: model.KindResynced, Backend: "redis", Evidence: model.EvidenceResync,
			Reason: "session table reconciled with the store: 3 sessions found, 1 born and 2 gone during the gap"},
			[]string{"reconciled with the store", "1 born and 2 gone"}},
		{"created by resync", &model.Event{Kind: model.KindCreated, Session: sess, Evidence: model.EvidenceResync,
			Reason: "born during a gap: found by the re-inventory"}, []string{"resync: born during a gap"}},
		{"destroyed by resync", &model.Event{Kind: model.KindDestroyed, Session: sess, Evidence: model.EvidenceResync,
			Reason: "gone after a gap before its TTL ran out"}, []string{"resync: gone after a gap"}},
		{"live destroyed", &model.Event{Kind: model.KindDestroyed, Session: sess, Cause: model.CauseApp}, []string{"cause app"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := feedRow(tc.ev).Detail
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("detail %q lacks %q", got, w)
				}
			}
			if tc.ev.Evidence != model.EvidenceResync && strings.Contains(got, "resync") {
				t.Errorf("detail %q mentions a resync for a live event", got)
			}
		})
	}
}

// TestFeedRowCandidatesPushed: a row pushed over the page socket is the very markup of
// the first load, candidates note included, and a row without candidates has none.
func TestFeedRowCandidatesPushed(t *testing.T) {
	sess := &model.SessionInfo{Ref: "c0ffeec0ffee", ID: "newi…d1", Framework: "laravel"}
	for _, tc := range []struct {
		name  string
		cands []model.SessionInfo
		note  bool
	}{
		{"with candidates", []model.SessionInfo{{Ref: "000000000001"}, {Ref: "000000000002"}}, true},
		{"without", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &model.Event{Seq: 5, Kind: model.KindCreated, Time: time.Now(), Session: sess, Candidates: tc.cands}
			var first bytes.Buffer
			if err := views.FeedRowView(feedRow(e)).Render(context.Background(), &first); err != nil {
				t.Fatal(err)
			}
			pushed, err := (&pageStream{h: &Handlers{}, view: viewLive}).Batch(5, []model.Object{e}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(pushed, first.Bytes()) {
				t.Errorf("pushed fragment differs from the first load's row:\n%s\nvs\n%s", pushed, first.Bytes())
			}
			if got := bytes.Contains(pushed, []byte(`data-testid="feed-candidates"`)); got != tc.note {
				t.Errorf("candidates note shown %v, want %v:\n%s", got, tc.note, pushed)
			}
			if tc.note && !bytes.Contains(pushed, []byte(`href="/sessions/000000000002"`)) {
				t.Errorf("no link to the second candidate:\n%s", pushed)
			}
		})
	}
}
