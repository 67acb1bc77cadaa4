package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// Flow bounds: the diagram draws at most flowMaxRows steps (the latest), from at most
// flowMaxExchanges exchanges.
const (
	flowMaxRows      = 200
	flowMaxExchanges = 200
	flowMarks        = 3 // annotation lines per arrow; the rest are counted
	flowLabelChars   = 38
)

// flowStep is one step before it is worded: an exchange's request or response, or an event.
type flowStep struct {
	t     time.Time
	order int // at the same instant: request, event, response
	n     int
	x     *model.Exchange
	e     *model.Event
	resp  bool
}

// FlowShow renders the flow of a session (?session=REF), a client (?client=ADDR&ua=),
// a finding (?finding=ID) or a HAR import (?har=ID): a swimlane diagram drawn on the
// server, browser | upstreams | store, with requests, redirects, cookies sent or not,
// Set-Cookie verdicts and store writes in true time order.
func (h *Handlers) FlowShow(c echo.Context) error {
	vm := views.FlowPage{Layout: h.Layout("Flow", "requests")}
	q, err := parseExchangeQuery(c, flowMaxExchanges)
	q.Status, q.Before, q.Limit = "", 0, flowMaxExchanges // a flow is the whole story
	vm.Filter = q.ExchangeFilter
	status := http.StatusOK
	var set exchangeSet
	if err == nil {
		set, err = h.exchangeSet(q.HAR)
		if errors.Is(err, inspector.ErrHARImportNotFound) {
			return h.ErrorPage(c, http.StatusNotFound, "HAR import not found", harGone(q.HAR, err),
				views.Link{Text: "Go to Requests", URL: "/requests"})
		}
	}
	var xs []*model.Exchange
	var finding *model.Finding
	if err == nil {
		if f, ok := set.finding(q.Finding); ok {
			finding = &f
			fv := findingTraffic(findingView(f), f, q.HAR)
			vm.Finding = &fv
		}
		xs, _, err = set.list(q)
	}
	if err != nil {
		vm.Error = err.Error()
		status = http.StatusBadRequest
	}
	slices.Reverse(xs) // oldest first
	var events []*model.Event
	if set.har == nil && err == nil {
		events = flowEvents(h.d.Src, xs, q, finding)
		if len(xs) > 0 && len(events) == 0 {
			vm.StoreNote = "No store event matches these requests yet: the store lane fills as the app writes their sessions."
		}
	}
	vm.Flow = flowView(xs, events, citedSteps(finding))
	vm.Title, vm.Links = flowTitle(q, set, finding)
	v := filterValues(views.ExchangeFilter{Session: q.Session, Client: q.Client, UA: q.UA, Finding: q.Finding})
	if set.har != nil {
		vm.RequestsURL = withQuery("/har/"+url.PathEscape(set.har.ID), v)
	} else {
		vm.RequestsURL = withQuery("/requests", v)
		vm.Stale = q.Finding == "" && err == nil
		if vm.Stale {
			vm.Layout.Socket = pageSocket(viewFlow, vm.Layout.Seq, q.ExchangeFilter)
		}
	}
	return Render(c, status, views.FlowView(vm))
}

// flowTitle names what the flow shows, with links to it.
func flowTitle(q exchangeQuery, set exchangeSet, f *model.Finding) (string, []views.Link) {
	var parts []string
	var links []views.Link
	if set.har != nil {
		parts = append(parts, "HAR "+set.har.Name)
		links = append(links, views.Link{Text: "HAR findings", URL: "/har/" + url.PathEscape(set.har.ID)})
	}
	if q.Session != "" {
		parts = append(parts, "session "+q.Session)
		if set.har == nil {
			links = append(links, views.Link{Text: "Session " + q.Session, URL: sessionURL(q.Session)})
		}
	}
	if q.Client != "" || q.UA != "" {
		parts = append(parts, "client "+strings.TrimPrefix(q.Client+" · "+shortUA(q.UA), " · "))
	}
	if f != nil {
		parts = append(parts, "finding "+f.Rule)
	} else if q.Finding != "" {
		parts = append(parts, "finding "+truncate(q.Finding, 40))
	}
	if len(parts) == 0 {
		return "Flow of recent traffic", links
	}
	return "Flow of " + strings.Join(parts, ", "), links
}

// citedSteps holds the exchange ids and "#seq" of the events that f cites, to
// highlight; none without a finding.
func citedSteps(f *model.Finding) map[string]bool {
	cited := map[string]bool{}
	if f == nil {
		return cited
	}
	for _, id := range f.Exchanges {
		cited[id] = true
	}
	for _, s := range f.Events {
		cited["#"+strconv.FormatUint(s, 10)] = true
	}
	return cited
}

// flowEvents asks for the store events of the flow: those caused by its exchanges,
// those of the sessions involved, those the finding cites, and gaps that fall within it.
func flowEvents(src Source, xs []*model.Exchange, q exchangeQuery, f *model.Finding) []*model.Event {
	involved := inspector.EventQuery{}
	if q.Session != "" {
		involved.Sessions = append(involved.Sessions, q.Session)
	}
	if f != nil {
		involved.Sessions = append(involved.Sessions, f.Sessions...)
		involved.Seqs = f.Events
	}
	gaps := inspector.EventQuery{Kinds: []model.Kind{model.KindGap}}
	for _, x := range xs {
		involved.Exchanges = append(involved.Exchanges, x.ID)
		involved.Sessions = append(involved.Sessions, x.SessionRefs()...)
		if gaps.From.IsZero() || x.Start.Before(gaps.From) {
			gaps.From = x.Start
		}
		if t := responseTime(x); t.After(gaps.To) {
			gaps.To = t
		}
	}
	if !gaps.To.IsZero() {
		gaps.To = gaps.To.Add(time.Second)
	}
	return src.Events(involved, gaps)
}

// upstreamName is the lane an exchange's response comes from: the upstream the proxy
// used, by the name it was given (--proxy-to NAME=URL) or its host:port, or the URL's
// host for a HAR.
func upstreamName(x *model.Exchange) string {
	if x.UpstreamName != "" {
		return x.UpstreamName
	}
	if x.Upstream != "" {
		return x.Upstream
	}
	if u, err := url.Parse(x.URL); err == nil && u.Host != "" {
		return u.Host
	}
	return "upstream"
}

// requestPath is the URL as the flow labels it: path and query (host in the lane).
func requestPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.RequestURI()
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return strconv.Itoa(n) + "th"
	case n%10 == 1:
		return strconv.Itoa(n) + "st"
	case n%10 == 2:
		return strconv.Itoa(n) + "nd"
	case n%10 == 3:
		return strconv.Itoa(n) + "rd"
	}
	return strconv.Itoa(n) + "th"
}

// flowView merges exchanges (oldest first) and events into steps in true time order,
// words the latest flowMaxRows of them, and has the view lay them out, one row each.
// cited holds the exchange ids and "#seq" of events to highlight.
func flowView(xs []*model.Exchange, events []*model.Event, cited map[string]bool) views.Flow {
	var steps []flowStep
	for _, x := range xs {
		steps = append(steps, flowStep{t: x.Start, order: 0, n: len(steps), x: x},
			flowStep{t: responseTime(x), order: 2, n: len(steps) + 1, x: x, resp: true})
	}
	for _, e := range events {
		steps = append(steps, flowStep{t: e.Time, order: 1, n: len(steps), e: e})
	}
	sort.SliceStable(steps, func(i, j int) bool {
		a, b := steps[i], steps[j]
		if !a.t.Equal(b.t) {
			return a.t.Before(b.t)
		}
		if a.order != b.order {
			return a.order < b.order
		}
		return a.n < b.n
	})
	total := len(steps)
	if len(steps) > flowMaxRows {
		steps = steps[len(steps)-flowMaxRows:]
	}

	inView := map[string]*model.Exchange{}
	clients := map[model.Client]bool{}
	for _, s := range steps {
		if s.x != nil {
			inView[s.x.ID] = s.x
			clients[s.x.Client] = true
		}
	}
	manyClients := len(clients) > 1
	redirects := map[string]int{}
	worded := make([]views.FlowStep, 0, len(steps))
	var t0, prev time.Time
	for i, s := range steps {
		var w views.FlowStep
		switch {
		case s.e != nil:
			w = eventStep(s.e, inView[s.e.Exchange])
		case s.resp:
			w = responseStep(s.x, redirects)
		default:
			w = requestStep(s.x, manyClients)
		}
		if i == 0 {
			t0 = s.t
		} else {
			w.Gap = s.t.Sub(prev)
			w.GapText = durationMS(w.Gap)
		}
		prev = s.t
		w.Row.Time, w.Row.ISO = after(s.t, t0), s.t.UTC().Format(time.RFC3339Nano)
		w.Row.Title += " · " + s.t.Local().Format("15:04:05.000")
		w.Cited = (s.x != nil && cited[s.x.ID]) || (s.e != nil && cited["#"+strconv.FormatUint(s.e.Seq, 10)])
		worded = append(worded, w)
	}
	return views.LayoutFlow(worded, total)
}

// exchangeStep is a step of x between the browser and x's upstream lane.
func exchangeStep(x *model.Exchange, r views.FlowRow) views.FlowStep {
	lane := upstreamName(x)
	return views.FlowStep{Row: r, Lane: lane, LaneName: truncate(lane, 30)}
}

// requestStep is a request arrow, browser → upstream, with the session cookies the
// browser sent and the ones it held back.
func requestStep(x *model.Exchange, manyClients bool) views.FlowStep {
	label := x.Method + " " + requestPath(x.URL)
	r := views.FlowRow{Kind: "request", Label: views.MiddleCut(label, flowLabelChars), URL: exchangeURL(x.ID),
		Exchange: x.ID, Seq: x.Seq, Title: label + " · " + x.ID}
	var marks []views.FlowMark
	var plain []string
	for _, c := range x.CookiesSent {
		if c.SessionRef == "" {
			plain = append(plain, c.Name)
			continue
		}
		marks = append(marks, views.FlowMark{Text: "✓ " + truncate(c.Name, 20) + " sent · " + c.SessionRef, Class: "sent"})
	}
	for _, b := range x.CookiesBlocked {
		marks = append(marks, views.FlowMark{Text: "✗ " + truncate(b.Name, 20) + " NOT sent: " + b.Reason, Class: "blocked"})
	}
	if len(marks) == 0 {
		if len(plain) > 0 {
			marks = append(marks, views.FlowMark{Text: truncate("cookies: "+strings.Join(plain, ", "), flowLabelChars+4), Class: "muted"})
		} else {
			marks = append(marks, views.FlowMark{Text: "no cookie sent", Class: "muted"})
		}
	}
	if manyClients {
		marks = append(marks, views.FlowMark{Text: clientText(x.Client), Class: "muted"})
	}
	r.Marks = boundMarks(marks)
	return exchangeStep(x, r)
}

// responseStep is a response arrow, upstream → browser: status, Location, and each
// Set-Cookie with the browser's verdict. A redirect the client already got from the
// same URL to the same place is marked: that is what a login loop looks like.
func responseStep(x *model.Exchange, redirects map[string]int) views.FlowStep {
	label := strconv.Itoa(x.Status)
	class := ""
	switch inspector.StatusClass(x) {
	case "failed":
		label, class = "no response", "error"
	case "3xx":
		class = "redirect"
		if x.Location != "" {
			label += " → " + x.Location
		}
	case "4xx", "5xx":
		class = "error"
	}
	r := views.FlowRow{Kind: "response", Class: class, Label: views.MiddleCut(label, flowLabelChars), URL: exchangeURL(x.ID),
		Exchange: x.ID, Seq: x.Seq, Title: label + " · " + x.ID}
	if x.Status != 0 {
		r.Status = strconv.Itoa(x.Status)
	}
	var marks []views.FlowMark
	if class == "redirect" {
		key := inspector.ClientHost(x.Client.Addr) + "\x00" + x.Client.UA + "\x00" + x.Method + " " + requestPath(x.URL) + "\x00" + x.Location
		redirects[key]++
		if n := redirects[key]; n > 1 {
			r.Class += " repeat"
			marks = append(marks, views.FlowMark{Text: "↻ the same redirect, " + ordinal(n) + " time", Class: "repeat"})
		}
	}
	for _, sc := range x.SetCookies {
		text := "Set-Cookie " + truncate(sc.Name, 20)
		m := views.FlowMark{Class: "muted"}
		switch setCookieVerdict(sc, x.Start) {
		case "stored":
			text, m.Class = text+" ✓", "stored"
		case "deleted":
			text, m.Class = text+" ✓ deleted", "stored"
		case "rejected":
			text, m.Class = text+" ✗ "+sc.Reason, "rejected"
		}
		m.Text = text
		marks = append(marks, m)
	}
	r.Marks = boundMarks(marks)
	return exchangeStep(x, r)
}

// eventStep is a store event on the store lane, with an arrow from the upstream that
// caused it when that exchange, writer, is drawn too (nil: it is not). A write that
// lands after that exchange's response reached the browser is marked: the browser may
// already be reading the session it needs (a stale read).
func eventStep(e *model.Event, writer *model.Exchange) views.FlowStep {
	r := views.FlowRow{Kind: "event", Class: "k-" + string(e.Kind), Seq: e.Seq, Exchange: e.Exchange, URL: eventURL(e.Seq)}
	label := string(e.Kind)
	if e.Session != nil {
		label += " " + e.Session.Ref
		r.URL = sessionURL(e.Session.Ref)
	}
	if e.Kind == model.KindGap {
		label = "gap: events may have been lost"
		r.URL = ""
	}
	r.Label = truncate(label, flowLabelChars)
	r.Title = label + " · seq " + strconv.FormatUint(e.Seq, 10)
	var marks []views.FlowMark
	if d := eventDetail(e); d != "" {
		marks = append(marks, views.FlowMark{Text: truncate(d, flowLabelChars+4), Class: "muted"})
	}
	step := views.FlowStep{}
	if x := writer; x != nil && e.Exchange != "" {
		step.Lane = upstreamName(x)
		r.Class += " write"
		if lateWrite(e, x) {
			r.Class += " late"
			marks = append(marks, views.FlowMark{Text: "written " + durationMS(e.Time.Sub(responseTime(x))) + " after the response", Class: "late"})
		}
	} else if e.Exchange != "" {
		marks = append(marks, views.FlowMark{Text: "by request " + truncate(e.Exchange, 24), Class: "muted"})
	}
	r.Marks = boundMarks(marks)
	step.Row = r
	return step
}

// boundMarks keeps flowMarks annotation lines, counting the rest.
func boundMarks(ms []views.FlowMark) []views.FlowMark {
	if len(ms) > flowMarks+1 {
		n := len(ms) - flowMarks
		ms = append(ms[:flowMarks], views.FlowMark{Text: "+" + strconv.Itoa(n) + " more", Class: "muted"})
	}
	return ms
}
