package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

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
func (h *Handlers) APIEvents(c echo.Context) error {
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
