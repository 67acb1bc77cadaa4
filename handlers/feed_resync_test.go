package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
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
