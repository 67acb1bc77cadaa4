package handlers

import (
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
// history, oldest first, with no live socket so live rows never mix in. "later →"
// is the same from with ?after= the history row the page ended on: paging by row,
// not by time, neither repeats nor loses events that share a time across the page
// boundary, nor skips those the history wrote late with an earlier time.
func (h *Handlers) livePast(c echo.Context, vm views.LivePage, fromParam, afterParam string) error {
	now := time.Now()
	if fromParam == "" {
		return h.ErrorPage(c, http.StatusBadRequest, "Bad from",
			"after pages the history from a time: give from too, as the later → link does, or pick a time in Show from.")
	}
	from, err := history.ParseTime(fromParam, now)
	if err != nil {
		return h.ErrorPage(c, http.StatusBadRequest, "Bad from",
			"from must be "+history.TimeForms+"; got "+strconv.Quote(truncate(fromParam, 40))+".")
	}
	var after int64
	if afterParam != "" {
		if after, err = strconv.ParseInt(afterParam, 10, 64); err != nil || after < 0 {
			return h.ErrorPage(c, http.StatusBadRequest, "Bad after",
				"after must be the history row a page ended on, a non-negative integer, as the later → link gives it; got "+strconv.Quote(truncate(afterParam, 40))+".")
		}
	}
	if !vm.HistoryOn {
		return h.ErrorPage(c, http.StatusNotFound, "No history",
			"Showing the Live screen from a time needs the history, and sessionscope runs without one. Restart it with --history PATH (and without --no-history), then pick a time again.")
	}
	objs, next, err := h.historyPage(c, history.Query{From: from, Types: []string{model.TypeEvent}, AfterRow: after}, pastPageSize,
		func(o model.Object) bool { _, ok := o.(*model.Event); return ok })
	if err != nil {
		return historyFailed(c, err)
	}
	vm.Layout.Live = false // no socket: pushed live rows would mix with the past
	vm.Past = &views.LivePast{From: pastLabel(from, now), Value: from.Local().Format("15:04")}
	if next != 0 {
		vm.Past.NextURL = "/?" + url.Values{"from": {from.UTC().Format(time.RFC3339Nano)}, "after": {strconv.FormatInt(next, 10)}}.Encode()
	}
	seen := map[string]bool{}
	for _, o := range objs {
		e := o.(*model.Event)
		vm.Rows = append(vm.Rows, feedRow(e))
		if e.Session != nil {
			seen[e.Session.Framework] = true
		}
	}
	vm.Frameworks = frameworkChips(seen)
	return Render(c, http.StatusOK, views.LiveView(vm))
}

// pastLabel is the time in the banner: the clock alone when it is today.
func pastLabel(t, now time.Time) string {
	t = t.In(now.Location())
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("2006-01-02 15:04")
}
