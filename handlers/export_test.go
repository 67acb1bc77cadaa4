package handlers

import (
	"net/http/httptest"

	"github.com/labstack/echo/v4"
)

// PageStreamFor is the stream the page socket at target (/ws/page?view=…) would
// serve, for tests that compare a pushed fragment with the first load.
func (h *Handlers) PageStreamFor(target string) (PageStream, error) {
	c := echo.New().NewContext(httptest.NewRequest("GET", target, nil), httptest.NewRecorder())
	return h.newPageStream(c)
}
