package ui

import (
	"errors"
	"net/http"
	"slices"
	"strings"

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
	e.Pre(securityHeaders, s.hostCheck, s.bodyDeadline)

	// Assets are public: they hold no data, and the login page needs its stylesheet.
	getHead(e, assets.Prefix+"*", echo.WrapHandler(s.assets))
	getHead(e, "/login", s.h.LoginForm)
	e.POST("/login", s.h.LoginSubmit, originCheck)
	e.POST("/logout", s.h.Logout, originCheck)

	g := e.Group("", s.requireAuth)
	getHead(g, "/", s.h.Live)
	getHead(g, "/sessions", s.h.SessionsList)
	getHead(g, "/sessions/:ref", s.h.SessionShow)
	g.POST("/sessions/:ref/read", s.h.SessionRead, originCheck)
	getHead(g, "/requests", s.h.RequestsList)
	getHead(g, "/requests/:id", s.h.RequestShow)
	g.POST("/requests/har", s.h.HARUpload, originCheck, slowBody(harUploadTimeout))
	getHead(g, "/har/:id", s.h.HARShow)
	getHead(g, "/flow", s.h.FlowShow)
	getHead(g, "/findings", s.h.FindingsList)
	getHead(g, "/status", s.h.StatusShow)
	getHead(g, "/lab", s.h.LabShow)
	g.POST("/lab/run", s.h.LabRunStart, originCheck)
	getHead(g, "/lab/runs/:id", s.h.LabRunShow)
	getHead(g, "/lab/runs/:id/panel", s.h.LabRunPanel)
	g.POST("/lab/runs/clear", s.h.LabRunsClear, originCheck)
	g.POST("/lab/run-all", s.h.LabRunAll, originCheck)
	getHead(g, "/lab/all/:id", s.h.LabBatchShow)
	g.POST("/findings/clear", s.h.FindingsClear, originCheck)
	g.POST("/requests/clear", s.h.ExchangesClear, originCheck)
	g.POST("/api/findings/clear", s.h.FindingsClear, originCheck)
	g.POST("/api/exchanges/clear", s.h.ExchangesClear, originCheck)
	g.POST("/api/lab/runs/clear", s.h.LabRunsClear, originCheck)
	// The sockets answer GET only: HEAD cannot upgrade.
	g.GET("/ws", s.h.LiveSocket, originCheck)
	g.GET("/ws/page", s.h.PageSocket, originCheck)
	getHead(g, "/api/sessions", s.h.APISessions)
	getHead(g, "/api/sessions/:ref", s.h.APISession)
	getHead(g, "/api/events", s.h.APIEvents)
	getHead(g, "/api/exchanges", s.h.APIExchanges)
	getHead(g, "/api/exchanges/:id", s.h.APIExchange)
	getHead(g, "/api/findings", s.h.APIFindings)
	getHead(g, "/api/status", s.h.APIStatus)
	getHead(g, "/metrics", s.metrics)
	s.routed = make(map[string]bool)
	for _, r := range e.Routes() {
		s.routed[r.Method+" "+r.Path] = true
	}
	return e
}

// getHead registers h for GET and HEAD: every page answers HEAD as it answers GET, and
// net/http drops the body of a HEAD response.
func getHead(r interface {
	GET(string, echo.HandlerFunc, ...echo.MiddlewareFunc) *echo.Route
	HEAD(string, echo.HandlerFunc, ...echo.MiddlewareFunc) *echo.Route
}, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.GET(path, h, m...)
	r.HEAD(path, h, m...)
}

// routableMethods are the methods the dashboard may answer, in Allow's order.
var routableMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods a route answers at r's path. Echo cannot say it
// itself: the auth group's catch-all (which makes its middleware run for unknown
// paths) turns every wrong method into a 404.
func (s *Server) allowedMethods(r *http.Request) []string {
	path := echo.GetPath(r)
	var allowed []string
	for _, m := range routableMethods {
		c := s.echo.NewContext(r, nil)
		s.echo.Router().Find(m, path, c)
		if s.routed[m+" "+c.Path()] {
			allowed = append(allowed, m)
		}
	}
	return allowed
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
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		// A path that exists under other methods is a 405 that says which (RFC 9110 15.5.6).
		if allowed := s.allowedMethods(c.Request()); len(allowed) > 0 && !slices.Contains(allowed, c.Request().Method) {
			status = http.StatusMethodNotAllowed
			c.Response().Header().Set("Allow", strings.Join(allowed, ", "))
		}
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
