package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
)

// APISession is GET /api/sessions/:ref: the session object with its payload tree
// (redacted unless RevealValues), lineage, recent events and findings.
func (h *Handlers) APISession(c echo.Context) error {
	ref := c.Param("ref")
	if !validRef(ref) {
		return jsonError(c, http.StatusNotFound, fmt.Sprintf("no session has the ref %q: a ref is up to 12 lowercase hex digits", ref))
	}
	d, err := h.d.Src.Session(ref)
	if errors.Is(err, tracker.ErrNotFound) {
		return jsonError(c, http.StatusNotFound, fmt.Sprintf("no tracked session has the ref %q: it may have ended; its last events may still be in /api/events", ref))
	}
	if err != nil {
		return fmt.Errorf("session %s: %w", ref, err)
	}
	resp := SessionDetailJSON{SessionJSON: sessionJSON(d.Row, h.d.Now()), Payload: buildPayload(d.Payload, h.d.RevealValues, h.d.Redact),
		Events: sessionEvents(h.d.Src, d.Row.Ref), Findings: sessionFindings(h.d.Src, d.Row.Ref)}
	if resp.Events == nil {
		resp.Events = []*model.Event{}
	}
	if resp.Findings == nil {
		resp.Findings = []model.Finding{}
	}
	if resp.Payload == nil {
		for i := len(resp.Events) - 1; i >= 0 && resp.PayloadUnread == ""; i-- {
			resp.PayloadUnread = resp.Events[i].PayloadUnread
		}
		if resp.PayloadUnread == "" {
			resp.PayloadUnread = "not-read"
		}
	}
	return c.JSON(http.StatusOK, resp)
}
