package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// APISession is GET /api/sessions/:ref: the session object with its payload tree
// (redacted unless RevealValues), lineage, timeline and findings; for a session that
// ended, its last known facts and how it ended, as its page shows them.
func (h *Handlers) APISession(c echo.Context) error {
	ref := c.Param("ref")
	if !validRef(ref) {
		return jsonError(c, http.StatusNotFound, fmt.Sprintf("no session has the ref %q: a ref is up to 12 lowercase hex digits", ref))
	}
	resp, err := h.sessionDetail(c, ref)
	if errors.Is(err, tracker.ErrNotFound) {
		return jsonError(c, http.StatusNotFound, fmt.Sprintf("no session has the ref %q: sessionscope has no event of it, in the history or in memory; search /api/sessions or /api/events", ref))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}
