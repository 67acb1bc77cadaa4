package handlers

import (
	"testing"
	"time"
)

// TestParseFrom: a time of day is today in the server's zone, or yesterday when it
// is still to come; datetime-local and RFC 3339 are taken as they are.
func TestParseFrom(t *testing.T) {
	zone := time.FixedZone("X", 2*3600)
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, zone)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"14:02", time.Date(2026, 12, 7, 14, 2, 0, 0, zone)},
		{"14:02:30", time.Date(2026, 12, 7, 14, 2, 30, 0, zone)},
		{"16:00", time.Date(2026, 12, 6, 16, 0, 0, 0, zone)},
		{"2026-12-01T09:30", time.Date(2026, 12, 1, 9, 30, 0, 0, zone)},
		{"2026-12-01T09:30:00Z", time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseFrom(tc.in, now)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("parseFrom(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "yesterday", "25:61", "14h02"} {
		if _, err := parseFrom(bad, now); err == nil {
			t.Errorf("parseFrom(%q) accepted", bad)
		}
	}
}
