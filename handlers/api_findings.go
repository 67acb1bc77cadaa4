package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// findingsResponse is GET /api/findings.
type findingsResponse struct {
	Findings []model.Finding `json:"findings"` // oldest first
	// AfterRow, from the history, is what to pass as ?after_row= for the findings
	// recorded after what one request reads; absent when it read them all.
	AfterRow int64 `json:"after_row,omitempty"`
}

// maxFindingsLimit is as many findings as one response from the history holds: far
// more than there are causes, since a finding is one per cause.
const maxFindingsLimit = 10_000

// APIFindings is GET /api/findings: every finding so far, filtered by ?severity= and
// ?rule= as the Findings screen is. With ?from=, ?to= or ?after_row= it serves the
// findings of that time range from the history, however old: each once, as last
// recorded in the range (a finding is recorded again each time it is updated).
func (h *Handlers) APIFindings(c echo.Context) error {
	f, err := parseFindingsFilter(c)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	all := h.d.Src.Findings()
	var next int64
	if q, ok, err := historyParams(c, time.Now()); err != nil || ok {
		if err != nil {
			return jsonError(c, http.StatusBadRequest, err.Error())
		}
		q.Types, q.Rule = []string{model.TypeFinding}, f.Rule
		var objs []model.Object
		objs, next, err = h.historyPage(c, q, maxFindingsLimit, func(model.Object) bool { return true })
		if err != nil {
			return historyFailed(c, err)
		}
		all = latestFindings(objs)
	}
	fs := []model.Finding{}
	for _, x := range all {
		if f.match(x) {
			x.Type = model.TypeFinding
			fs = append(fs, x)
		}
	}
	return c.JSON(http.StatusOK, findingsResponse{Findings: fs, AfterRow: next})
}

// latestFindings keeps the last version of each finding, in the order their last
// versions were recorded.
func latestFindings(objs []model.Object) []model.Finding {
	last := map[string]int{}
	for i, o := range objs {
		if x, ok := o.(*model.Finding); ok {
			last[x.ID] = i
		}
	}
	out := make([]model.Finding, 0, len(last))
	for i, o := range objs {
		if x, ok := o.(*model.Finding); ok && last[x.ID] == i {
			out = append(out, *x)
		}
	}
	return out
}
