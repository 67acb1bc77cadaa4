package inspector

import "testing"

// TestBacklogGaugeHysteresis: the history pauses above a quarter of the raw queue and
// resumes only below a sixteenth, so a backlog hovering near either threshold does not
// turn the pause on and off at every batch (each pause is a history gap).
func TestBacklogGaugeHysteresis(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		steps    []int  // backlog before each call
		want     []bool // busy after each call
	}{
		{"idle queue never pauses", 1 << 19, []int{0, 1000, 131072, 0}, []bool{false, false, false, false}},
		{"pauses above a quarter, holds down to a sixteenth", 1 << 19,
			[]int{131073, 100000, 40000, 32768, 32767, 40000, 131072, 131073},
			[]bool{true, true, true, true, false, false, false, true}},
		{"a burst that drains at once", 1 << 19, []int{500000, 0, 1}, []bool{true, false, false}},
		{"tiny queue: resumes only when empty", 8, []int{3, 2, 1, 0, 3}, []bool{true, true, true, false, true}},
		{"one-event queue", 1, []int{1, 0}, []bool{false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var backlog int
			g := newBacklogGauge(func() int { return backlog }, tc.capacity)
			for i, n := range tc.steps {
				backlog = n
				if got := g.busy(); got != tc.want[i] {
					t.Fatalf("step %d: backlog %d of %d: busy %v, want %v", i, n, tc.capacity, got, tc.want[i])
				}
			}
		})
	}
}
