package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/a-h/templ"
	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/views"
)

// The pages with live regions of their own; every other dashboard page streams only
// the nav's findings badge.
const (
	viewLive     = "live"     // the feed, counters, sparkline and backend strip
	viewRequests = "requests" // a live Requests table, with its filter
	viewFlow     = "flow"     // a flow of the live log, with its filter
	viewFindings = "findings" // the Findings screen, with its severity and rule filter
	viewSessions = "sessions" // the Sessions screen: its count and the rows of its search
	viewStatus   = "status"   // the Status screen's cards
)

// pushedSessionRows caps the rows of changed sessions one message carries: a page
// shows PageSize rows, and a burst of writes must not become a burst of markup.
const pushedSessionRows = 2 * PageSize

// bornMatchChecks caps how many sessions born in one batch are checked against a
// text search (each check reads the session table); births past it are not counted.
const bornMatchChecks = 10

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
	return pageSocketValues(view, after, filterValues(views.ExchangeFilter{Session: f.Session, Client: f.Client, UA: f.UA, Status: f.Status}))
}

// pageSocketValues is the URL of a page's live socket with the page's own parameters.
func pageSocketValues(view string, after uint64, params url.Values) string {
	v := url.Values{}
	for k, vs := range params {
		v[k] = append([]string(nil), vs...)
	}
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
	s, err := h.newPageStream(c)
	if err != nil {
		return jsonError(c, http.StatusBadRequest, err.Error())
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
	h.d.Live.ServePage(c.Request().Context(), conn, after, s)
	return nil
}

// newPageStream reads the page's view and its filter; its errors are meant for the user.
func (h *Handlers) newPageStream(c echo.Context) (*pageStream, error) {
	view := c.QueryParam("view")
	s := &pageStream{h: h, view: view, key: view}
	var err error
	switch view {
	case "", viewLive, viewRequests, viewFlow, viewStatus:
	case viewFindings:
		if s.findings, err = parseFindingsFilter(c); err != nil {
			return nil, err
		}
		s.key += "?" + s.findings.values().Encode()
	case viewSessions:
		if s.sessions, err = parseSessionsQuery(c, PageSize); err != nil {
			return nil, err
		}
		s.key += "?" + sessionsValues(s.sessions).Encode()
	default:
		return nil, errors.New("view must be live, requests, flow, findings, sessions or status, or absent")
	}
	q, err := parseExchangeQuery(c, RequestsPageSize)
	if err != nil {
		return nil, err
	}
	s.filter = q.ExchangeFilter
	if view == viewRequests || view == viewFlow {
		s.key += "?" + filterValues(q.ExchangeFilter).Encode()
		s.match = inspector.ExchangeQuery{SessionRef: q.Session, ClientHost: q.Client, UA: q.UA, Status: q.Status}
		if view == viewFlow {
			s.match.Status = "" // a flow is the whole story
		}
	}
	return s, nil
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

	findings findingsFilter // the findings a Findings screen takes
	sessions tracker.Query  // the search of a Sessions screen
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
	case viewFindings:
		var changed []model.Finding
		for i := len(objs) - 1; i >= 0; i-- {
			if f, ok := objs[i].(*model.Finding); ok && s.findings.match(*f) {
				changed = append(changed, *f)
			}
		}
		if len(changed) > 0 {
			parts = append(parts, views.FindingsPushView(s.findingsPush(changed)))
		}
	case viewSessions:
		if p, ok := s.sessionsPush(objs); ok {
			parts = append(parts, views.SessionsPushView(p))
		}
	case viewStatus:
		if c != nil {
			parts = append(parts, views.StatusCards(s.h.statusPage()))
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
	case viewFindings:
		// Every finding again: the page updates those it shows and counts the others.
		var all []model.Finding
		for _, f := range s.h.d.Src.Findings() {
			if s.findings.match(f) {
				all = append(all, f)
			}
		}
		if len(all) > 0 {
			parts = append(parts, views.FindingsPushView(s.findingsPush(all)))
		}
	case viewSessions:
		p := views.SessionsPush{Summary: true}
		p.Matched, p.Total = s.sessionsCount()
		parts = append(parts, views.SessionsPushView(p))
	case viewStatus:
		parts = append(parts, views.StatusCards(s.h.statusPage()))
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

// findingsPush renders changed findings (newest first, each once) for the Findings
// screen, with the headings of every group, whose counts they change.
func (s *pageStream) findingsPush(changed []model.Finding) views.FindingsPush {
	var p views.FindingsPush
	seen := map[string]bool{}
	for _, f := range changed {
		if !seen[f.ID] {
			seen[f.ID] = true
			p.Findings = append(p.Findings, liveFindingView(f))
		}
	}
	for _, g := range findingGroups(s.h.d.Src.Findings(), s.findings) {
		g.Findings = nil
		p.Groups = append(p.Groups, g)
	}
	return p
}

// sessionsPush is what objs change on a Sessions screen: the rows of the sessions
// they touch and, when sessions came or went, the count. ok is false when they
// change nothing the screen shows.
func (s *pageStream) sessionsPush(objs []model.Object) (p views.SessionsPush, ok bool) {
	born, changed := map[string]bool{}, map[string]bool{}
	var bornOrder, changedOrder []string
	lifecycle := false
	for i := len(objs) - 1; i >= 0; i-- { // newest first
		e, isEvent := objs[i].(*model.Event)
		if !isEvent {
			continue
		}
		switch e.Kind {
		case model.KindCreated, model.KindRegenerated, model.KindExpired, model.KindEvicted, model.KindDestroyed, model.KindResynced:
			lifecycle = true
		}
		if e.Session == nil || e.Session.Ref == "" {
			continue
		}
		ref := e.Session.Ref
		switch {
		case e.Kind == model.KindCreated || e.Kind == model.KindRegenerated:
			if !born[ref] {
				born[ref] = true
				bornOrder = append(bornOrder, ref)
			}
		case e.Kind == model.KindUpdated || e.Kind == model.KindTouched:
			if !changed[ref] {
				changed[ref] = true
				changedOrder = append(changedOrder, ref)
			}
		}
	}
	if lifecycle {
		p.Summary = true
		p.Matched, p.Total = s.sessionsCount()
	}
	now := s.h.d.Now()
	checks := 0
	for _, ref := range bornOrder {
		if s.sessions.Text != "" {
			if checks == bornMatchChecks {
				break
			}
			checks++
			page, err := s.h.d.Src.Sessions(tracker.Query{Text: s.sessions.Text + " ref:" + ref, Limit: 1})
			if err != nil || page.Matched == 0 {
				continue
			}
		}
		if d, err := s.h.d.Src.Session(ref); err == nil {
			p.Born = append(p.Born, sessionRow(d.Row, now))
		}
	}
	for _, ref := range changedOrder {
		if born[ref] {
			continue // a row born in this batch is pushed as born
		}
		if len(p.Changed) == pushedSessionRows {
			break
		}
		if d, err := s.h.d.Src.Session(ref); err == nil {
			p.Changed = append(p.Changed, sessionRow(d.Row, now))
		}
	}
	s.h.addPast(context.Background(), p.Born, p.Changed) // as on first load, or a pushed row would lose its birth
	return p, p.Summary || len(p.Born) > 0 || len(p.Changed) > 0
}

// sessionsCount is the Sessions screen's "N matching of M tracked".
func (s *pageStream) sessionsCount() (matched, total int) {
	if s.sessions.Text == "" {
		n := s.h.d.Src.Status().Sessions
		return n, n
	}
	page, err := s.h.d.Src.Sessions(tracker.Query{Text: s.sessions.Text, Limit: 1})
	if err != nil {
		n := s.h.d.Src.Status().Sessions
		return 0, n
	}
	return page.Matched, page.Total
}
