package handlers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/a-h/templ"
	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// The pages with live regions of their own; every other dashboard page streams only
// the nav's findings badge.
const (
	viewLive     = "live"     // the feed, counters, sparkline and backend strip
	viewRequests = "requests" // a live Requests table, with its filter
	viewFlow     = "flow"     // a flow of the live log, with its filter
)

// PageStream renders the hub's batches as one page's HTML fragments, with the same
// components that render the page, for htmx's websocket extension to swap in.
type PageStream interface {
	// Key names what the stream renders: streams with equal keys render a batch to the
	// same bytes, so the hub renders each batch once per key, not once per page.
	Key() string
	// Batch renders objs (oldest first) and, when c is not nil, the counters; the
	// message ends with seq, the seq the page then reflects.
	Batch(seq uint64, objs []model.Object, c *Counters) ([]byte, error)
	// Snapshot renders the page's live regions whole, for a page that missed objects
	// after seq after, and returns the seq the snapshot reflects.
	Snapshot(after uint64) ([]byte, uint64, error)
}

// pageSocket is the URL of a page's live socket: the view, the seq the page reflects
// and, for Requests and flows, the filter whose exchanges it takes.
func pageSocket(view string, after uint64, f views.ExchangeFilter) string {
	v := filterValues(views.ExchangeFilter{Session: f.Session, Client: f.Client, UA: f.UA, Status: f.Status})
	if view != "" {
		v.Set("view", view)
	}
	v.Set("after", strconv.FormatUint(after, 10))
	return "/ws/page?" + v.Encode()
}

// PageSocket upgrades to a dashboard page's live socket (?view= and the page's filter,
// resuming after ?after=SEQ). It is a second route rather than a parameter of /ws: /ws
// streams the JSON objects of `watch --json` to API clients, this one streams HTML
// fragments rendered by the page's own components. Both share the hub, its bounded
// queues, resync markers and timeouts; only the encoding differs.
func (h *Handlers) PageSocket(c echo.Context) error {
	after, err := parseAfter(c)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	view := c.QueryParam("view")
	if view != "" && view != viewLive && view != viewRequests && view != viewFlow {
		return jsonError(c, http.StatusBadRequest, "view must be live, requests or flow, or absent")
	}
	q, err := parseExchangeQuery(c, RequestsPageSize)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
	}
	if h.d.Live == nil || !h.d.Live.Running() {
		return jsonError(c, http.StatusServiceUnavailable, "the live feed is not running: restart sessionscope")
	}
	s := &pageStream{h: h, view: view, filter: q.ExchangeFilter, key: view}
	if view == viewRequests || view == viewFlow {
		s.key += "?" + filterValues(q.ExchangeFilter).Encode()
		s.match = inspector.ExchangeQuery{SessionRef: q.Session, ClientHost: q.Client, UA: q.UA, Status: q.Status}
		if view == viewFlow {
			s.match.Status = "" // a flow is the whole story
		}
	}
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		// Accept has already written the HTTP error response.
		h.d.Logger.Debug("websocket accept", "err", err, "remote", c.RealIP())
		return nil
	}
	h.d.Live.ServePage(c.Request().Context(), conn, after, s)
	return nil
}

// parseAfter reads ?after=SEQ, the last seq the page saw.
func parseAfter(c echo.Context) (uint64, error) {
	s := c.QueryParam("after")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("after must be the last seq the page saw (a non-negative integer)")
	}
	return n, nil
}

// pageStream renders one page's fragments.
type pageStream struct {
	h      *Handlers
	view   string
	filter views.ExchangeFilter
	match  inspector.ExchangeQuery // the exchanges a Requests table or a flow takes
	key    string
}

func (s *pageStream) Key() string { return s.key }

func (s *pageStream) Batch(seq uint64, objs []model.Object, c *Counters) ([]byte, error) {
	var parts []templ.Component
	switch s.view {
	case viewLive:
		p := views.LivePush{}
		for i := len(objs) - 1; i >= 0; i-- {
			if e, ok := objs[i].(*model.Event); ok {
				p.Rows = append(p.Rows, feedRow(e))
			}
		}
		if c != nil {
			p.Head = true
			p.Counters, p.Spark, p.Strip = liveHead(*c, s.h.d.Src.Status())
		}
		parts = append(parts, views.LivePushView(p))
	case viewRequests:
		p := views.RequestsPush{}
		for i := len(objs) - 1; i >= 0; i-- {
			if x, ok := objs[i].(*model.Exchange); ok && s.match.Match(x) {
				p.Rows = append(p.Rows, exchangeRow(x))
			}
		}
		parts = append(parts, views.RequestsPushView(p))
	case viewFlow:
		for _, o := range objs {
			if x, ok := o.(*model.Exchange); ok && s.match.Match(x) {
				parts = append(parts, views.FlowStale(true))
				break
			}
		}
	}
	if c != nil {
		parts = append(parts, views.FindingsBadge(c.Findings))
	}
	return renderParts(append(parts, views.LiveSeq(seq)))
}

func (s *pageStream) Snapshot(after uint64) ([]byte, uint64, error) {
	seq := s.h.d.Src.Seq()
	var parts []templ.Component
	switch s.view {
	case viewLive:
		p := views.LivePush{Replace: true, Head: true}
		p.Rows, _ = s.h.feedRows(seq)
		p.Counters, p.Spark, p.Strip = liveHead(s.h.liveCounters(), s.h.d.Src.Status())
		parts = append(parts, views.LivePushView(p))
	case viewRequests, viewFlow:
		q := exchangeQuery{ExchangeFilter: s.filter, Limit: RequestsPageSize}
		if s.view == viewFlow {
			q.Status, q.Limit = "", 1
		}
		set, _ := s.h.exchangeSet("")
		xs, _, err := set.list(q)
		if err != nil {
			return nil, 0, fmt.Errorf("page socket: list %s exchanges: %w", s.view, err)
		}
		if s.view == viewFlow {
			if len(xs) > 0 && xs[0].Seq > after {
				parts = append(parts, views.FlowStale(true))
			}
			break
		}
		p := views.RequestsPush{Replace: true}
		for _, x := range xs {
			p.Rows = append(p.Rows, exchangeRow(x))
		}
		parts = append(parts, views.RequestsPushView(p))
	}
	parts = append(parts, views.FindingsBadge(s.h.liveCounters().Findings), views.LiveSeq(seq))
	data, err := renderParts(parts)
	return data, seq, err
}

// renderParts renders the top-level elements of one socket message.
func renderParts(parts []templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	for _, p := range parts {
		if err := p.Render(context.Background(), &buf); err != nil {
			return nil, fmt.Errorf("page socket: render: %w", err)
		}
	}
	return buf.Bytes(), nil
}
