package ui

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/handlers"
)

// routes builds the echo instance: middleware order matters — headers first so even
// rejections carry them, then the Host check, then auth per route group.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Pre(securityHeaders, s.hostCheck)

	// Assets are public: they hold no data, and the login page needs its stylesheet.
	e.GET(assets.Prefix+"*", echo.WrapHandler(s.assets))
	e.GET("/login", s.h.LoginForm)
	e.POST("/login", s.h.LoginSubmit, originCheck)
	e.POST("/logout", s.h.Logout, originCheck)

	g := e.Group("", s.requireAuth)
	g.GET("/", s.h.Live)
	g.GET("/sessions", s.h.SessionsList)
	g.GET("/sessions/:ref", s.h.SessionShow)
	g.POST("/sessions/:ref/read", s.h.SessionRead, originCheck)
	g.GET("/requests", s.h.RequestsList)
	g.GET("/requests/:id", s.h.RequestShow)
	g.POST("/requests/har", s.h.HARUpload, originCheck)
	g.GET("/har/:id", s.h.HARShow)
	g.GET("/flow", s.h.FlowShow)
	g.GET("/findings", s.h.FindingsList)
	g.GET("/status", s.h.StatusShow)
	g.GET("/lab", s.h.LabShow)
	g.POST("/lab/run", s.h.LabRunStart, originCheck)
	g.GET("/lab/runs/:id", s.h.LabRunShow)
	g.GET("/lab/runs/:id/panel", s.h.LabRunPanel)
	g.POST("/lab/runs/clear", s.h.LabRunsClear, originCheck)
	g.POST("/lab/run-all", s.h.LabRunAll, originCheck)
	g.GET("/lab/all/:id", s.h.LabBatchShow)
	g.POST("/findings/clear", s.h.FindingsClear, originCheck)
	g.POST("/requests/clear", s.h.ExchangesClear, originCheck)
	g.POST("/api/findings/clear", s.h.FindingsClear, originCheck)
	g.POST("/api/exchanges/clear", s.h.ExchangesClear, originCheck)
	g.POST("/api/lab/runs/clear", s.h.LabRunsClear, originCheck)
	g.GET("/ws", s.h.LiveSocket, originCheck)
	g.GET("/ws/page", s.h.PageSocket, originCheck)
	g.GET("/api/sessions", s.h.APISessions)
	g.GET("/api/sessions/:ref", s.h.APISession)
	g.GET("/api/events", s.h.APIEvents)
	g.GET("/api/exchanges", s.h.APIExchanges)
	g.GET("/api/exchanges/:id", s.h.APIExchange)
	g.GET("/api/findings", s.h.APIFindings)
	g.GET("/api/status", s.h.APIStatus)
	g.GET("/metrics", s.metrics)
	return e
}

// handleError is the one error handler: it logs with slog and answers with a friendly
// page, or a JSON error under /api/.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.Warn("dashboard: error after the response started", "path", c.Request().URL.Path, "err", err)
		return
	}
	status := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
	}
	title, msg := http.StatusText(status), ""
	switch status {
	case http.StatusNotFound:
		title, msg = "Not found", "There is nothing at "+c.Request().URL.Path+". Check the address, or start again from Live."
	case http.StatusMethodNotAllowed:
		msg = "This address does not accept " + c.Request().Method + " requests."
	case http.StatusInternalServerError:
		title, msg = "Something failed", "sessionscope could not build this response; its log has the details. Reload the page, and report the log line if it keeps failing."
	default:
		if he != nil {
			if m, ok := he.Message.(string); ok {
				msg = m
			}
		}
	}
	if status >= 500 {
		s.log.Error("dashboard request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	} else {
		s.log.Debug("dashboard request", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	}
	if isAPI(c.Request().URL.Path) || c.Request().Method == http.MethodHead {
		_ = c.JSON(status, map[string]string{"error": msg})
		return
	}
	if rerr := s.h.ErrorPage(c, status, title, msg); rerr != nil {
		s.log.Error("dashboard: render error page", "err", rerr)
		_ = c.String(status, title+": "+msg)
	}
}

var _ handlers.Live = (*Hub)(nil)
