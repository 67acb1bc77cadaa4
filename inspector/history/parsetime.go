package history

import (
	"errors"
	"strconv"
	"time"
)

// TimeForms names the forms ParseTime accepts, for the one-line error of a flag or
// a parameter that takes a time.
const TimeForms = "a time of day (14:02 or 14:02:05: today, or yesterday if that time is still to come), " +
	"a date and time (2026-12-07T14:02), RFC 3339 (2026-12-07T14:02:05Z) or unix seconds"

// ErrNotATime is ParseTime's error: s is in none of the forms TimeForms names.
var ErrNotATime = errors.New("want " + TimeForms)

// ParseTime reads a time the way every surface that looks back takes it (the Live
// screen's "Show from", the API's from and to, `sessionscope history --from/--to`),
// so that one value means the same instant everywhere. A time of day and a date and
// time without a zone are in now's location: the user means their own clock. A time
// of day is the latest past occurrence: today, or yesterday when it is still to come.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return time.Unix(n, 0), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// The forms of an HTML datetime-local input, which omits zero seconds.
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04", "15:04:05"} {
		clock, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		y, m, d := now.Date()
		t := time.Date(y, m, d, clock.Hour(), clock.Minute(), clock.Second(), 0, now.Location())
		if t.After(now) {
			t = time.Date(y, m, d-1, clock.Hour(), clock.Minute(), clock.Second(), 0, now.Location())
		}
		return t, nil
	}
	return time.Time{}, ErrNotATime
}
