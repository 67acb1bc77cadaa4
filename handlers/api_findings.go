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

// APIFindings is GET /api/findings: every finding so far.
func (h *Handlers) APIFindings(c echo.Context) error {
	fs := h.d.Src.Findings()
	if fs == nil {
		fs = []model.Finding{}
	}
	for i := range fs {
		fs[i].Type = model.TypeFinding
	}
	return c.JSON(http.StatusOK, findingsResponse{Findings: fs})
}
