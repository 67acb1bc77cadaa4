package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// FindingsClearer is a Source that can forget its findings; *inspector.Inspector is one.
type FindingsClearer interface {
	// ClearFindings forgets every finding and returns how many there were.
	ClearFindings() int
}

// ExchangesClearer is a Source that can empty its exchange log; *inspector.Inspector is one.
type ExchangesClearer interface {
	// ClearExchanges empties the log behind Requests and returns how many it held.
	ClearExchanges() int
}

// LabRunsClearer is a Lab that can forget its finished runs; LabEnv's is one.
type LabRunsClearer interface {
	// ClearRuns forgets the finished runs and returns how many it forgot.
	ClearRuns() int
}

// clearedJSON answers a clear through the API.
type clearedJSON struct {
	Cleared int `json:"cleared"`
}

// FindingsClear is POST /findings/clear and POST /api/findings/clear: it forgets every
// finding (a cause that occurs again comes back as a new finding). The form answers
// 303 to the Findings screen, the API {"cleared": N}.
func (h *Handlers) FindingsClear(c echo.Context) error {
	fc, ok := h.d.Src.(FindingsClearer)
	if !ok {
		return h.clearUnsupported(c, "findings")
	}
	n := fc.ClearFindings()
	h.d.Logger.Info("findings cleared", "count", n)
	return clearDone(c, n, "/findings")
}

// ExchangesClear is POST /requests/clear and POST /api/exchanges/clear: it empties the
// exchange log behind Requests and the flow view; imported HARs keep theirs.
func (h *Handlers) ExchangesClear(c echo.Context) error {
	xc, ok := h.d.Src.(ExchangesClearer)
	if !ok {
		return h.clearUnsupported(c, "requests")
	}
	n := xc.ClearExchanges()
	h.d.Logger.Info("requests cleared", "count", n)
	return clearDone(c, n, "/requests")
}

// LabRunsClear is POST /lab/runs/clear and POST /api/lab/runs/clear: it forgets the
// lab's finished runs; a run in progress goes on.
func (h *Handlers) LabRunsClear(c echo.Context) error {
	if h.d.Lab == nil {
		if wantsJSON(c) {
			return jsonError(c, http.StatusNotFound, noLabMessage)
		}
		return h.labPage(c, http.StatusNotFound, "", "")
	}
	lc, ok := h.d.Lab.(LabRunsClearer)
	if !ok {
		return h.clearUnsupported(c, "lab runs")
	}
	n := lc.ClearRuns()
	h.d.Logger.Info("lab runs cleared", "count", n)
	return clearDone(c, n, "/lab")
}

// wantsJSON tells API calls (under /api/, or asking for JSON) from form posts.
func wantsJSON(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, "/api/") ||
		strings.Contains(c.Request().Header.Get("Accept"), "application/json")
}

// clearDone answers a clear: JSON with the count, or a redirect (POST-redirect-GET)
// to the screen that was cleared.
func clearDone(c echo.Context, n int, screen string) error {
	if wantsJSON(c) {
		return c.JSON(http.StatusOK, clearedJSON{Cleared: n})
	}
	return c.Redirect(http.StatusSeeOther, screen)
}

func (h *Handlers) clearUnsupported(c echo.Context, what string) error {
	msg := "This sessionscope cannot clear its " + what + ": restart it to start afresh."
	if wantsJSON(c) {
		return jsonError(c, http.StatusNotImplemented, msg)
	}
	return echo.NewHTTPError(http.StatusNotImplemented, msg)
}
