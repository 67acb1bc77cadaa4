package handlers

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// eventsResponse is GET /api/events.
type eventsResponse struct {
	Objects  []model.Object `json:"objects"`
	Complete bool           `json:"complete"` // false: objects after `after` left the ring; reload the whole view
	Seq      uint64         `json:"seq"`      // the last seq handed out
	// AfterRow, from the history, is what to pass as ?after_row= for the next page;
	// absent on the last.
	AfterRow int64 `json:"after_row,omitempty"`
}

// maxEventsLimit bounds one response; the ring holds 10,000 objects.
const maxEventsLimit = 10_000

// APIEvents is GET /api/events?after=SEQ&limit=N (objects after SEQ, oldest first) or
// ?tail=N (the newest N objects, oldest first), the same objects as `watch --json`.
// With ?from=, ?to= or ?after_row= it serves the history instead: the first `limit`
// objects of that time range (or the last `tail`), however old, and after_row to
// page on with. A seq is not a place in the history (seqs restart with each run), so
// `after` with those is refused rather than ignored.
func (h *Handlers) APIEvents(c echo.Context) error {
	if q, ok, err := historyParams(c, time.Now()); err != nil || ok {
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		if c.QueryParam("after") != "" {
			return jsonError(c, http.StatusBadRequest, "after is a seq of the objects in memory and does not page the history: with from, to or after_row, pass after_row= the after_row of the previous response")
		}
		limit, err := intParam(c, "limit", history.DefaultLimit)
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		tail, err := intParam(c, "tail", 0)
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		resp := eventsResponse{Objects: []model.Object{}, Complete: true, Seq: h.d.Src.Seq()}
		if tail > 0 {
			q.Limit, q.Newest = tail, true
			resp.Objects, err = h.fromHistory(c, q)
		} else {
			resp.Objects, resp.AfterRow, err = h.historyPage(c, q, cmp.Or(limit, history.DefaultLimit), func(model.Object) bool { return true })
		}
		if err != nil {
			return historyFailed(c, err)
		}
		return c.JSON(http.StatusOK, resp)
	}
	var after uint64
	if s := c.QueryParam("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return jsonError(c, http.StatusBadRequest, "after must be a seq: a non-negative integer (0 for everything kept)")
		}
		after = n
	}
	limit, err := intParam(c, "limit", 1000)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	tail, err := intParam(c, "tail", 0)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	seq := h.d.Src.Seq()
	var objs []model.Object
	complete := true
	if tail > 0 {
		all, _ := h.d.Src.Since(0, 0)
		objs = all[max(len(all)-tail, 0):]
	} else {
		objs, complete = h.d.Src.Since(after, limit)
		if after > seq {
			complete = false // a seq from before a restart: the page must reload
		}
	}
	if objs == nil {
		objs = []model.Object{}
	}
	return c.JSON(http.StatusOK, eventsResponse{Objects: objs, Complete: complete, Seq: seq})
}

// intParam reads an optional integer in [0, maxEventsLimit]; a bad value is a 400
// saying what the parameter accepts.
func intParam(c echo.Context, name string, def int) (int, error) {
	s := c.QueryParam(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxEventsLimit {
		return 0, errors.New(name + " must be a number from 0 to 10000")
	}
	return n, nil
}

// historyParams reads the parameters that select the history: ?from= and ?to= (any
// form history.ParseTime takes, the Live screen's included) and ?after_row= (where
// the previous page ended). ok is false when none is given: the request is then
// served from memory.
func historyParams(c echo.Context, now time.Time) (q history.Query, ok bool, err error) {
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := c.QueryParam(p.name)
		if s == "" {
			continue
		}
		ok = true
		if *p.t, err = history.ParseTime(s, now); err != nil {
			return q, ok, fmt.Errorf("%s must be a time: %s; got %s", p.name, history.TimeForms, strconv.Quote(truncate(s, 40)))
		}
	}
	if ok && !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		// Say the instants: a time of day still to come today is yesterday's.
		return q, ok, fmt.Errorf("to must not be before from: from is %s, to is %s (a time of day still to come today means yesterday's: give a date too)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if s := c.QueryParam("after_row"); s != "" {
		ok = true
		if q.AfterRow, err = strconv.ParseInt(s, 10, 64); err != nil || q.AfterRow < 0 {
			return q, ok, fmt.Errorf("after_row must be the after_row of a previous response: a non-negative integer; got %s", strconv.Quote(truncate(s, 40)))
		}
	}
	return q, ok, nil
}

// fromHistory runs q on the Source's history, never returning nil objects; the
// error wraps inspector.ErrNoHistory when there is none (see historyFailed).
func (h *Handlers) fromHistory(c echo.Context, q history.Query) ([]model.Object, error) {
	hs := h.history()
	if hs == nil {
		return []model.Object{}, inspector.ErrNoHistory
	}
	objs, err := hs.History(c.Request().Context(), q)
	if objs == nil {
		objs = []model.Object{}
	}
	return objs, err
}

// maxScanRows bounds the history rows one request reads through filters the history
// cannot apply itself: when they reject most rows, the page comes back short, with
// the row to go on from.
const maxScanRows = 100_000

// historyPage is one page of q from the history, oldest first (by row, the order
// they were written): the first limit objects that keep accepts, and the row to pass
// as q.AfterRow for the next page, 0 when there is none. Paging by row, not by time,
// neither repeats nor loses objects that share a time across the page boundary, nor
// those written late with an earlier time.
func (h *Handlers) historyPage(c echo.Context, q history.Query, limit int, keep func(model.Object) bool) ([]model.Object, int64, error) {
	hs := h.history()
	if hs == nil {
		return []model.Object{}, 0, inspector.ErrNoHistory
	}
	// One more than the page shows tells whether another page follows.
	q.Newest, q.Limit = false, min(limit+1, history.MaxLimit)
	out := []model.Object{}
	for read := 0; read < maxScanRows; {
		p, err := hs.HistoryPage(c.Request().Context(), q)
		if err != nil {
			return out, 0, err
		}
		for i, o := range p.Objects {
			if !keep(o) {
				q.AfterRow = p.Rows[i]
				continue
			}
			if len(out) == limit {
				return out, q.AfterRow, nil
			}
			out, q.AfterRow = append(out, o), p.Rows[i]
		}
		if len(p.Objects) < q.Limit {
			return out, 0, nil // the end of the history
		}
		read += len(p.Objects)
		// Past the first page, read in large pages: keep rejects what these bring.
		q.Limit = history.MaxLimit
	}
	return out, q.AfterRow, nil // cut short: the caller goes on from here
}

// historyFailed answers a request whose history query failed: a 404 that says why
// when there is no history, else the error for the error handler.
func historyFailed(c echo.Context, err error) error {
	if errors.Is(err, inspector.ErrNoHistory) {
		return jsonError(c, http.StatusNotFound, "from and to need the history, and "+err.Error())
	}
	return fmt.Errorf("history: %w", err)
}
