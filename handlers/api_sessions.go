package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// sessionsResponse is GET /api/sessions.
type sessionsResponse struct {
	Sessions []SessionJSON `json:"sessions"`
	Next     string        `json:"next"` // cursor of the next page; "" on the last
	Matched  int           `json:"matched"`
	Total    int           `json:"total"`
}

// APISessions is GET /api/sessions?q=&sort=&limit=&cursor=.
func (h *Handlers) APISessions(c echo.Context) error {
	q, err := parseSessionsQuery(c, PageSize)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	page, err := h.d.Src.Sessions(q)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, queryError(err))
	}
	now := h.d.Now()
	resp := sessionsResponse{Sessions: h.sessionsJSON(c.Request().Context(), page.Rows, now), Next: page.Next, Matched: page.Matched, Total: page.Total}
	return c.JSON(http.StatusOK, resp)
}
