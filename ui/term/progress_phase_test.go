package term

import (
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestProgressLineNamesThePhase checks that a two-phase inventory's bar says which
// phase it is in: listing counts keys as before, and the second phase counts the
// sessions whose TTL and size are read out of those listed.
func TestProgressLineNamesThePhase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		p     Progress
		width int
		want  string
	}{
		{
			name: "phase one: listing",
			p: Progress{Node: "127.0.0.1:6379", Scanned: 250_000, Sessions: 200_000, Estimate: 1_000_000, Elapsed: 2 * time.Second,
				Phase: model.InventoryList},
			want: "sessionscope: inventory of 127.0.0.1:6379, 1/2 listing  [######..................]  25%  250,000 of ~1,000,000 keys (estimate)  200,000 sessions  125,000 keys/s  ETA 6s",
		},
		{
			name: "phase two: TTL and size",
			p: Progress{Node: "127.0.0.1:6379", Scanned: 1_000_000, Sessions: 1_000_000, Filled: 500_000, Estimate: 1_000_000,
				Elapsed: 2 * time.Second, Phase: model.InventoryFill},
			want: "sessionscope: inventory of 127.0.0.1:6379, 2/2 TTL and size  [############............]  50%  500,000 of 1,000,000 sessions read  250,000 keys/s  ETA 2s",
		},
		{
			name:  "phase two on a narrow terminal",
			p:     Progress{Node: "n1", Sessions: 1000, Filled: 250, Elapsed: time.Second, Phase: model.InventoryFill},
			width: 50,
			want:  "inventory of n1, 2/2 TTL and size  25%",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ProgressLine(tc.p, tc.width); got != tc.want {
				t.Errorf("ProgressLine(%+v, %d)\n got %q\nwant %q", tc.p, tc.width, got, tc.want)
			}
		})
	}
}
