package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// findingsResponse is GET /api/findings.
type findingsResponse struct {
	Findings []model.Finding `json:"findings"` // oldest first
}

// APIFindings is GET /api/findings: every finding so far, filtered by ?severity= and
// ?rule= as the Findings screen is.
func (h *Handlers) APIFindings(c echo.Context) error {
	f, err := parseFindingsFilter(c)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	fs := []model.Finding{}
	for _, x := range h.d.Src.Findings() {
		if f.match(x) {
			x.Type = model.TypeFinding
			fs = append(fs, x)
		}
	}
	return c.JSON(http.StatusOK, findingsResponse{Findings: fs})
}
