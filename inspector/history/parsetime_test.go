package history

import (
	"errors"
	"testing"
	"time"
)

// TestParseTime: a time of day is today in now's zone, or yesterday when it is still
// to come; a date and time without a zone is in now's zone; RFC 3339 and unix
// seconds are taken as they are.
func TestParseTime(t *testing.T) {
	zone := time.FixedZone("X", 2*3600)
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, zone)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"14:02", time.Date(2026, 12, 7, 14, 2, 0, 0, zone)},
		{"14:02:30", time.Date(2026, 12, 7, 14, 2, 30, 0, zone)},
		{"15:00", time.Date(2026, 12, 7, 15, 0, 0, 0, zone)}, // now itself has come
		{"15:00:01", time.Date(2026, 12, 6, 15, 0, 1, 0, zone)},
		{"16:00", time.Date(2026, 12, 6, 16, 0, 0, 0, zone)},
		{"2026-12-01T09:30", time.Date(2026, 12, 1, 9, 30, 0, 0, zone)},
		{"2026-12-01T09:30:15", time.Date(2026, 12, 1, 9, 30, 15, 0, zone)},
		{"2026-12-01T09:30:00Z", time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)},
		{"2026-12-01T09:30:00.123456789+01:00", time.Date(2026, 12, 1, 8, 30, 0, 123456789, time.UTC)},
		{"1796650000", time.Unix(1796650000, 0)},
		{"0", time.Unix(0, 0)},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime(tc.in, now)
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	// On the first of a month, yesterday is the last day of the month before.
	first := time.Date(2027, 1, 1, 0, 30, 0, 0, zone)
	if got, _ := ParseTime("23:59", first); !got.Equal(time.Date(2026, 12, 31, 23, 59, 0, 0, zone)) {
		t.Errorf("ParseTime(23:59) at 00:30 on 1 January = %v; want 31 December", got)
	}
	for _, bad := range []string{"", "yesterday", "25:61", "14h02", "-5", "2026-12-01", "14:02 ", "2026-13-01T09:30"} {
		if got, err := ParseTime(bad, now); !errors.Is(err, ErrNotATime) {
			t.Errorf("ParseTime(%q) = %v, %v; want ErrNotATime", bad, got, err)
		}
	}
}
