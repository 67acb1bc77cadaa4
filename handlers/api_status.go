package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// statusResponse is GET /api/status.
type statusResponse struct {
	Backend    string       `json:"backend"`
	Describe   string       `json:"describe"` // where, password hidden
	Mode       string       `json:"mode"`
	Last       model.Status `json:"last"` // the latest status object
	ReadBudget float64      `json:"read_budget"`
	Reads      int64        `json:"reads"`
	Denied     int64        `json:"denied"`
	Dropped    int64        `json:"dropped"`
	Gaps       int64        `json:"gaps"`
	RawEvents  int64        `json:"raw_events"`
	Emitted    int64        `json:"emitted"`
	Sessions   int          `json:"sessions"`
	Clients    int          `json:"clients"` // dashboard websockets
	Seq        uint64       `json:"seq"`
	// Proxy is the capturing proxy: the URL to open and the upstreams; null when
	// none runs (exchanges then come from HAR imports only).
	Proxy *model.ProxyInfo `json:"proxy"`
}

// APIStatus is GET /api/status.
func (h *Handlers) APIStatus(c echo.Context) error {
	st := h.d.Src.Status()
	resp := statusResponse{Backend: st.Name, Describe: st.Describe, Mode: st.Mode, Last: st.Last, ReadBudget: st.ReadBudget,
		Reads: st.Reads, Denied: st.Denied, Dropped: st.Dropped, Gaps: st.Gaps, RawEvents: st.RawEvents,
		Emitted: st.Emitted, Sessions: st.Sessions, Seq: h.d.Src.Seq(), Proxy: st.Proxy}
	if resp.Last.Type == "" {
		resp.Last.Type = model.TypeStatus
	}
	if h.d.Live != nil {
		resp.Clients = h.d.Live.Clients()
	}
	return c.JSON(http.StatusOK, resp)
}
