// Package handlers holds one file per dashboard screen or API endpoint. Each handler
// parses the request, asks the Source, builds a view model and renders it; nothing here
// knows how the Source watches its store.
package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/history"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/stream"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/views"
)

// Source is what the dashboard asks of the domain; *inspector.Inspector satisfies it.
type Source interface {
	Subscribe(capacity int) *stream.Subscription
	Sessions(q tracker.Query) (tracker.Page, error)
	Session(ref string) (tracker.SessionDetail, error)
	Since(after uint64, limit int) ([]model.Object, bool)
	// Events returns the events still in the ring that any of qs selects, oldest first.
	Events(qs ...inspector.EventQuery) []*model.Event
	Seq() uint64
	Findings() []model.Finding
	Status() inspector.BackendStatus

	// Exchanges queries the log of proxied exchanges, oldest first, with cookie verdicts.
	Exchanges(q inspector.ExchangeQuery) []*model.Exchange
	// Exchange is one kept exchange; the error wraps inspector.ErrExchangeNotFound.
	Exchange(id string) (*model.Exchange, error)
	// ImportHAR analyses an uploaded HAR and keeps it among the last few imports.
	ImportHAR(r io.Reader, name string) (inspector.HARImport, error)
	// HARImports lists the kept imports, newest first.
	HARImports() []inspector.HARImport
	// HARImport is one kept import; the error wraps inspector.ErrHARImportNotFound.
	HARImport(id string) (inspector.HARImport, error)
	// HARExchanges queries one import's exchanges as Exchanges queries the log.
	HARExchanges(id string, q inspector.ExchangeQuery) ([]*model.Exchange, error)
}

// HistorySource is what a Source with a history file adds; *inspector.Inspector
// satisfies it. It is asked for by assertion, so sources without history (test
// fakes, benchmarks) need not implement it.
type HistorySource interface {
	// History queries the history file; the error wraps inspector.ErrNoHistory when
	// none is recorded.
	History(ctx context.Context, q history.Query) ([]model.Object, error)
	// HistoryPage is History with each object's row, to page on exactly with
	// history.Query.AfterRow whatever the objects' times.
	HistoryPage(ctx context.Context, q history.Query) (history.Page, error)
	// SessionEvents is a session's whole timeline, history and ring joined, oldest first.
	SessionEvents(ctx context.Context, ref string) []*model.Event
	// SessionTimeline is SessionEvents saying whether the history held more than
	// inspector.MaxTimelineEvents events of the session (the events are then its first
	// ones in the history and the newest in memory), and a failed history read.
	SessionTimeline(ctx context.Context, ref string) (events []*model.Event, truncated bool, err error)
}

// Counters are the live screen's rolling numbers, pushed with every websocket batch.
// Per-minute figures count the last 60 s as seen by the dashboard's hub.
type Counters struct {
	Live        int     `json:"live"`        // tracked sessions
	Created     int     `json:"created"`     // per minute
	Updated     int     `json:"updated"`     // per minute
	Touched     int     `json:"touched"`     // per minute
	Regenerated int     `json:"regenerated"` // per minute
	Expired     int     `json:"expired"`     // per minute
	Evicted     int     `json:"evicted"`     // per minute
	Destroyed   int     `json:"destroyed"`   // per minute
	Rate        []int   `json:"rate"`        // events per second over the last 60 s, oldest first
	Clients     int     `json:"clients"`     // connected dashboard websockets
	Dropped     int64   `json:"dropped"`     // raw events the backend dropped
	Gaps        int64   `json:"gaps"`        // gaps reported
	ReadsPerSec float64 `json:"reads_per_s"` // payload reads in the last second
	Findings    int     `json:"findings"`    // findings so far
}

// Live is the websocket hub as handlers see it.
type Live interface {
	// Counters returns the current rolling counters.
	Counters() Counters
	// Clients is the number of connected websockets.
	Clients() int
	// Serve streams to one accepted websocket, resuming after seq, until it closes.
	Serve(ctx context.Context, conn *websocket.Conn, after uint64)
	// ServePage streams page as HTML fragments to one accepted websocket, resuming
	// after seq, until it closes.
	ServePage(ctx context.Context, conn *websocket.Conn, after uint64, page PageStream)
	// Running reports whether the hub is consuming the Source (Serve was started).
	Running() bool
}

// Auth is the dashboard's login: the token check behind the login form and the
// server-side table of logins; the ui package implements it.
type Auth interface {
	// Enabled reports whether a token protects the dashboard.
	Enabled() bool
	// LogIn checks a token submitted by r's client. It returns the cookie that proves
	// the login, nil for a wrong token, or a wait (retryAfter > 0) when the client's
	// address got the token wrong too often: the token was then not checked.
	LogIn(r *http.Request, token string) (cookie *http.Cookie, retryAfter time.Duration)
	// LogOut revokes the login r carries on the server and returns the cookie that
	// removes it from the browser.
	LogOut(r *http.Request) *http.Cookie
}

// Deps are what the handlers need.
type Deps struct {
	Src          Source
	Live         Live
	Auth         Auth
	Asset        func(name string) string // hashed asset URL
	RevealValues bool                     // show sensitive payload values unredacted
	Redact       model.Redaction          // names whose values are redacted; default the built-in list
	Lab          Lab                      // the training lab; nil when this sessionscope runs none
	Logger       *slog.Logger
	Now          func() time.Time // for tests; time.Now when nil
}

// Handlers serves every screen and endpoint.
type Handlers struct {
	d Deps
}

// New returns the handlers over d.
func New(d Deps) *Handlers {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Handlers{d: d}
}

// Render renders component into a buffer first, so a failed render becomes a clean
// error response instead of half a page with a 200 status.
func Render(c echo.Context, status int, component templ.Component) error {
	var buf bytes.Buffer
	if err := component.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render %s: %w", c.Path(), err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// Layout builds the shared layout of a page.
func (h *Handlers) Layout(title, active string) views.Layout {
	l := views.Layout{
		Title: title, Active: active,
		CSS: h.d.Asset("app.css"), JS: h.d.Asset("app.js"), Icon: h.d.Asset("favicon.svg"),
		AuthEnabled: h.d.Auth != nil && h.d.Auth.Enabled(),
		// With a lab the dashboard watches the lab's own store (ui/cli serveLab).
		LabHint: h.d.Lab != nil,
	}
	for _, v := range assets.VendorScripts() {
		l.Vendor = append(l.Vendor, h.d.Asset(v))
	}
	if active != "" {
		l.Live = true
		l.Seq = h.d.Src.Seq()
		l.Socket = pageSocket("", l.Seq, views.ExchangeFilter{})
		if h.d.Live != nil {
			l.Findings = h.d.Live.Counters().Findings
		} else {
			l.Findings = len(h.d.Src.Findings())
		}
	}
	return l
}

// ErrorPage renders a friendly error page; the ui's error handler uses it too.
func (h *Handlers) ErrorPage(c echo.Context, status int, title, msg string, links ...views.Link) error {
	vm := views.ErrorPage{Layout: h.Layout(title, ""), Status: status, Title: title, Message: msg, Links: links}
	if len(links) == 0 {
		vm.Links = []views.Link{{Text: "Go to Live", URL: "/"}}
	}
	return Render(c, status, views.ErrorView(vm))
}

// history is the Source's history; nil when it records none.
func (h *Handlers) history() HistorySource {
	hs, _ := h.d.Src.(HistorySource)
	return hs
}

// apiError is the JSON body of every API error.
type apiError struct {
	Error string `json:"error"`
}

func jsonError(c echo.Context, status int, msg string) error {
	return c.JSON(status, apiError{Error: msg})
}

// sessionURL is the detail page of a session ref.
func sessionURL(ref string) string { return "/sessions/" + url.PathEscape(ref) }

// stamp renders a time for the page; zero times render as a dash.
func stamp(t time.Time) views.Stamp {
	if t.IsZero() {
		return views.Stamp{}
	}
	return views.Stamp{ISO: t.UTC().Format(time.RFC3339Nano), Exact: t.Local().Format("2006-01-02 15:04:05.000")}
}

// clock is a short time for feed rows and timelines.
func clock(t time.Time) views.Stamp {
	if t.IsZero() {
		return views.Stamp{}
	}
	return views.Stamp{ISO: t.UTC().Format(time.RFC3339Nano), Exact: t.Local().Format("15:04:05.000")}
}

// bytesText is a human size.
func bytesText(n int64) string {
	switch {
	case n < 0:
		return "—"
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// ttlText is the remaining time to live at now.
func ttlText(expires time.Time, noTTL bool, now time.Time) (iso, text string) {
	switch {
	case noTTL:
		return "none", "no TTL"
	case expires.IsZero():
		return "", "unknown"
	}
	left := expires.Sub(now).Round(time.Second)
	if left < 0 {
		left = 0
	}
	return expires.UTC().Format(time.RFC3339), durationText(left)
}

func durationText(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh %02dm", s/3600, (s%3600)/60)
	}
	return fmt.Sprintf("%dd %02dh", s/86400, (s%86400)/3600)
}
