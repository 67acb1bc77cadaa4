package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// findingsResponse is GET /api/findings.
type findingsResponse struct {
	Findings []model.Finding `json:"findings"` // oldest first
}

// APIFindings is GET /api/findings: every finding so far, filtered by ?severity= and
// ?rule= as the Findings screen is. With ?from= and/or ?to= it serves the findings
// of that time range from the history, however old.
func (h *Handlers) APIFindings(c echo.Context) error {
	f, err := parseFindingsFilter(c)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	all := h.d.Src.Findings()
	if q, ok, err := historyRange(c); err != nil || ok {
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		q.Types, q.Rule, q.Limit = []string{model.TypeFinding}, f.Rule, history.MaxLimit
		objs, err := h.fromHistory(c, q)
		if err != nil {
			return historyFailed(c, err)
		}
		all = all[:0:0]
		for _, o := range objs {
			if x, ok := o.(*model.Finding); ok {
				all = append(all, *x)
			}
		}
	}
	fs := []model.Finding{}
	for _, x := range all {
		if f.match(x) {
			x.Type = model.TypeFinding
			fs = append(fs, x)
		}
	}
	return c.JSON(http.StatusOK, findingsResponse{Findings: fs})
}
