package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// exchangesResponse is GET /api/exchanges.
type exchangesResponse struct {
	Exchanges []*model.Exchange `json:"exchanges"` // oldest first, as in `watch --json`
	// Before is the seq to pass as ?before= for the older page; absent on the last.
	Before uint64 `json:"before,omitempty"`
	// AfterRow, from the history, is what to pass as ?after_row= for the next page;
	// absent on the last.
	AfterRow int64 `json:"after_row,omitempty"`
}

// APIExchanges is GET /api/exchanges?session=&client=&ua=&status=&finding=&har=&before=&limit=:
// the kept exchanges that match, the newest `limit` (default 100) before `before`,
// oldest first, as the same objects `watch --json` prints. With ?from=, ?to= or
// ?after_row= it serves the history instead: the first `limit` proxied exchanges of
// that time range that match the same filters, and after_row to page on with.
func (h *Handlers) APIExchanges(c echo.Context) error {
	q, err := parseExchangeQuery(c, RequestsPageSize)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	if hq, ok, err := historyParams(c, time.Now()); err != nil || ok {
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		return h.exchangesFromHistory(c, q, hq)
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

// exchangesFromHistory answers APIExchanges from the history. The session filter is
// the history's own (an index); the others apply to what it returns, as they do to
// the log in memory. A HAR import is not in the history, and `before` pages the log
// in memory by seq: both are refused with what to do instead.
func (h *Handlers) exchangesFromHistory(c echo.Context, q exchangeQuery, hq history.Query) error {
	switch {
	case q.HAR != "":
		return jsonError(c, http.StatusBadRequest, "har: a HAR import is not in the history; drop from, to and after_row to list its exchanges")
	case q.Before != 0:
		return jsonError(c, http.StatusBadRequest, "before pages the exchanges in memory by seq and does not page the history: with from, to or after_row, pass after_row= the after_row of the previous response")
	}
	match := inspector.ExchangeQuery{ClientHost: q.Client, UA: q.UA, Status: q.Status}
	if q.Finding != "" {
		ids, err := h.findingExchanges(c, q.Finding)
		if err != nil {
			return historyFailed(c, err)
		}
		if ids == nil {
			return jsonError(c, http.StatusBadRequest, "finding "+q.Finding+": no finding has this id, in memory or in the history; open it from the Findings screen")
		}
		if len(ids) == 0 {
			return c.JSON(http.StatusOK, exchangesResponse{Exchanges: []*model.Exchange{}})
		}
		match.IDs = ids
	}
	hq.Types, hq.Ref = []string{model.TypeExchange}, q.Session
	objs, next, err := h.historyPage(c, hq, q.Limit, func(o model.Object) bool {
		x, ok := o.(*model.Exchange)
		return ok && match.Match(x)
	})
	if err != nil {
		return historyFailed(c, err)
	}
	xs := make([]*model.Exchange, 0, len(objs))
	for _, o := range objs {
		xs = append(xs, o.(*model.Exchange))
	}
	return c.JSON(http.StatusOK, exchangesResponse{Exchanges: xs, AfterRow: next})
}

// findingExchanges are the ids of the exchanges a finding cites: the finding in
// memory and every version the history recorded (each cites a bounded sample), so
// that a finding of an earlier run still filters. nil when neither knows the id.
func (h *Handlers) findingExchanges(c echo.Context, id string) ([]string, error) {
	var ids []string
	for _, f := range h.d.Src.Findings() {
		if f.ID == id {
			ids = append([]string{}, f.Exchanges...)
		}
	}
	// A finding's id is its rule, a dash and a hash of its cause.
	rule := id
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		rule = id[:i]
	}
	objs, err := h.fromHistory(c, history.Query{Types: []string{model.TypeFinding}, Rule: rule, Limit: history.MaxLimit, Newest: true})
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if f, ok := o.(*model.Finding); ok && f.ID == id {
			if ids == nil {
				ids = []string{}
			}
			for _, x := range f.Exchanges {
				if !slices.Contains(ids, x) {
					ids = append(ids, x)
				}
			}
		}
	}
	return ids, nil
}
