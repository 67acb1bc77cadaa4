package handlers

import (
	"net/http"
	"strconv"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
)

// LiveSocket upgrades to the websocket that streams the JSON objects of `watch --json`
// to API clients, resuming after ?after=SEQ (the dashboard's pages use PageSocket). The ui middleware has already checked the Origin; Accept checks it
// again (same host) so this handler is safe even when mounted on its own.
func (h *Handlers) LiveSocket(c echo.Context) error {
	var after uint64
	if s := c.QueryParam("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return jsonError(c, http.StatusBadRequest, "after must be the last seq the page saw (a non-negative integer)")
		}
		after = n
	}
	if h.d.Live == nil || !h.d.Live.Running() {
		return jsonError(c, http.StatusServiceUnavailable, "the live feed is not running: restart sessionscope")
	}
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		// Accept has already written the HTTP error response.
		h.d.Logger.Debug("websocket accept", "err", err, "remote", c.RealIP())
		return nil
	}
	h.d.Live.Serve(c.Request().Context(), conn, after)
	return nil
}
