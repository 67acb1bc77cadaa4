package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// pastPageSize is how many history events one page of the Live screen moved back shows.
const pastPageSize = FeedLimit

// historyStatser tells whether a HistorySource records anything: *inspector.Inspector
// has a History method even when it runs with --no-history.
type historyStatser interface {
	HistoryStats() (history.Stats, bool)
}

// historyOn reports whether the Live screen can be moved back in time.
func (h *Handlers) historyOn() bool {
	hs := h.history()
	if hs == nil {
		return false
	}
	if st, ok := hs.(historyStatser); ok {
		_, on := st.HistoryStats()
		return on
	}
	return true
}

// livePast renders the Live screen moved back to ?from=: a page of events from the
// history, oldest first, with no live socket so live rows never mix in.
func (h *Handlers) livePast(c echo.Context, vm views.LivePage, fromParam string) error {
	now := time.Now()
	from, err := parseFrom(fromParam, now)
	if err != nil {
		return h.ErrorPage(c, http.StatusBadRequest, "Bad from",
			"from must be a time of day (14:02 or 14:02:30, today, or yesterday if that is still to come) or RFC 3339 (2006-01-02T15:04:05Z); got "+strconv.Quote(fromParam)+".")
	}
	if !vm.HistoryOn {
		return h.ErrorPage(c, http.StatusNotFound, "No history",
			"Showing the Live screen from a time needs the history, and sessionscope runs without one. Restart it with --history PATH (and without --no-history), then pick a time again.")
	}
	objs, err := h.fromHistory(c, history.Query{From: from, Types: []string{model.TypeEvent}, Limit: pastPageSize + 1})
	if err != nil {
		return historyFailed(c, err)
	}
	vm.Layout.Live = false // no socket: pushed live rows would mix with the past
	vm.Past = &views.LivePast{From: pastLabel(from, now), Value: from.Local().Format("15:04")}
	seen := map[string]bool{}
	for i, o := range objs {
		e, ok := o.(*model.Event)
		if !ok {
			continue
		}
		if i == pastPageSize {
			vm.Past.NextURL = "/?from=" + url.QueryEscape(e.Time.UTC().Format(time.RFC3339Nano))
			break
		}
		vm.Rows = append(vm.Rows, feedRow(e))
		if e.Session != nil {
			seen[e.Session.Framework] = true
		}
	}
	vm.Frameworks = frameworkChips(seen)
	return Render(c, http.StatusOK, views.LiveView(vm))
}

// parseFrom reads a time of day in the server's zone (today, or yesterday when that
// time is still to come), a datetime-local value, or RFC 3339.
func parseFrom(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
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
			t = t.AddDate(0, 0, -1)
		}
		return t, nil
	}
	return time.Time{}, errors.New("not a time")
}

// pastLabel is the time in the banner: the clock alone when it is today.
func pastLabel(t, now time.Time) string {
	t = t.In(now.Location())
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04")
}
