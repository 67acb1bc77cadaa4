package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// exchangesResponse is GET /api/exchanges.
type exchangesResponse struct {
	Exchanges []*model.Exchange `json:"exchanges"` // oldest first, as in `watch --json`
	// Before is the seq to pass as ?before= for the older page; absent on the last.
	Before uint64 `json:"before,omitempty"`
}

// APIExchanges is GET /api/exchanges?session=&client=&ua=&status=&finding=&har=&before=&limit=:
// the kept exchanges that match, the newest `limit` (default 100) before `before`,
// oldest first, as the same objects `watch --json` prints. With ?from= and/or ?to=
// it serves the first `limit` proxied exchanges of that time range from the history.
func (h *Handlers) APIExchanges(c echo.Context) error {
	q, err := parseExchangeQuery(c, RequestsPageSize)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	if hq, ok, err := historyRange(c); err != nil || ok {
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		// The history holds proxied exchanges only; the other filters apply to the page.
		hq.Types, hq.Ref, hq.Limit = []string{model.TypeExchange}, q.Session, q.Limit
		objs, err := h.fromHistory(c, hq)
		if err != nil {
			return historyFailed(c, err)
		}
		xs := []*model.Exchange{}
		for _, o := range objs {
			if x, ok := o.(*model.Exchange); ok {
				xs = append(xs, x)
			}
		}
		return c.JSON(http.StatusOK, exchangesResponse{Exchanges: xs})
	}
	set, err := h.exchangeSet(q.HAR)
	if errors.Is(err, inspector.ErrHARImportNotFound) {
		return jsonError(c, http.StatusNotFound, harGone(q.HAR, err))
	}
	if err != nil {
		return fmt.Errorf("exchanges: %w", err)
	}
	xs, next, err := set.list(q)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, "finding "+q.Finding+": "+err.Error())
	}
	out := make([]*model.Exchange, len(xs))
	for i, x := range xs {
		out[len(xs)-1-i] = x
	}
	return c.JSON(http.StatusOK, exchangesResponse{Exchanges: out, Before: next})
}

// APIExchange is GET /api/exchanges/:id: one exchange, live or from a HAR import.
func (h *Handlers) APIExchange(c echo.Context) error {
	id := c.Param("id")
	x, _, err := h.findExchange(id)
	if errors.Is(err, inspector.ErrExchangeNotFound) {
		return jsonError(c, http.StatusNotFound, fmt.Sprintf("no kept exchange has the id %q: the log keeps the latest exchanges only (--exchange-log)", truncate(id, 60)))
	}
	if err != nil {
		return fmt.Errorf("exchange %s: %w", id, err)
	}
	return c.JSON(http.StatusOK, x)
}
