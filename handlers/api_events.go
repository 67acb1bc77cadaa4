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
}

// maxEventsLimit bounds one response; the ring holds 10,000 objects.
const maxEventsLimit = 10_000

// APIEvents is GET /api/events?after=SEQ&limit=N (objects after SEQ, oldest first) or
// ?tail=N (the newest N objects, oldest first), the same objects as `watch --json`.
// With ?from= and/or ?to= it serves the history instead: the objects of that time
// range (the first `limit`, or the last `tail`), however old.
func (h *Handlers) APIEvents(c echo.Context) error {
	if q, ok, err := historyRange(c); err != nil || ok {
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		limit, err := intParam(c, "limit", history.DefaultLimit)
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		tail, err := intParam(c, "tail", 0)
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		q.Limit, q.Newest = cmp.Or(tail, limit), tail > 0
		objs, err := h.fromHistory(c, q)
		if err != nil {
			return historyFailed(c, err)
		}
		return c.JSON(http.StatusOK, eventsResponse{Objects: objs, Complete: true, Seq: h.d.Src.Seq()})
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

// historyRange reads ?from= and ?to=; ok is false when neither is given, and the
// request is then served from the ring as before.
func historyRange(c echo.Context) (q history.Query, ok bool, err error) {
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := c.QueryParam(p.name)
		if s == "" {
			continue
		}
		ok = true
		if *p.t, err = parseInstant(s); err != nil {
			return q, ok, fmt.Errorf("%s must be a time: RFC 3339 (2006-01-02T15:04:05Z) or unix seconds", p.name)
		}
	}
	if ok && !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return q, ok, errors.New("to must not be before from")
	}
	return q, ok, nil
}

func parseInstant(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// fromHistory runs q on the Source's history, never returning nil objects; the
// error wraps inspector.ErrNoHistory when there is none (see historyFailed).
func (h *Handlers) fromHistory(c echo.Context, q history.Query) ([]model.Object, error) {
	hs := h.history()
	if hs == nil {
		return nil, inspector.ErrNoHistory
	}
	objs, err := hs.History(c.Request().Context(), q)
	if objs == nil {
		objs = []model.Object{}
	}
	return objs, err
}

// historyFailed answers a request whose history query failed: a 404 that says why
// when there is no history, else the error for the error handler.
func historyFailed(c echo.Context, err error) error {
	if errors.Is(err, inspector.ErrNoHistory) {
		return jsonError(c, http.StatusNotFound, "from and to need the history, and "+err.Error())
	}
	return fmt.Errorf("history: %w", err)
}
