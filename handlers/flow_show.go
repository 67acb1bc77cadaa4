package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	flowMaxUpstreams = 5 // lanes; further upstreams share an "other upstreams" lane
	flowMarks        = 3 // annotation lines per arrow; the rest are counted
)

// Flow geometry, in SVG units.
const (
	flowLaneX0     = 190 // the browser lane
	flowLaneGap    = 270
	flowLabelRoom  = 290 // right of the store lane, for event labels
	flowLaneTop    = 34
	flowFirstY     = 66
	flowLine       = 13
	flowPause      = 5 * time.Second // a longer silence between steps is drawn as a pause
	flowLabelChars = 38
)

// flowStep is one step before layout.
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
			return h.ErrorPage(c, http.StatusNotFound, "HAR import not found", harGone(q.HAR),
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
	for i, j := 0, len(xs)-1; i < j; i, j = i+1, j-1 {
		xs[i], xs[j] = xs[j], xs[i] // oldest first
	}
	var events []*model.Event
	if set.har == nil && err == nil {
		events = flowEvents(h.d.Src, xs, q, finding)
		if len(xs) > 0 && len(events) == 0 {
			vm.StoreNote = "No store event matches these requests yet: the store lane fills as the app writes their sessions."
		}
	}
	cited := map[string]bool{}
	if finding != nil {
		for _, id := range finding.Exchanges {
			cited[id] = true
		}
		for _, s := range finding.Events {
			cited["#"+strconv.FormatUint(s, 10)] = true
		}
	}
	vm.Flow = layoutFlow(xs, events, cited)
	vm.Title, vm.Links = flowTitle(q, set, finding)
	v := filterValues(views.ExchangeFilter{Session: q.Session, Client: q.Client, UA: q.UA, Finding: q.Finding})
	if set.har != nil {
		vm.RequestsURL = withQuery("/har/"+url.PathEscape(set.har.ID), v)
	} else {
		vm.RequestsURL = withQuery("/requests", v)
		vm.Stale = q.Finding == "" && err == nil
	}
	return Render(c, status, views.FlowView(vm))
}

// harGone explains a HAR import id that is not kept.
func harGone(id string) string {
	return fmt.Sprintf("No kept HAR import has the id %q: sessionscope keeps the last %d imports, in memory until it stops. Import the file again from the Requests screen.",
		truncate(id, 40), inspector.MaxHARImports)
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

// flowEvents picks the store events of the flow from the ring: those caused by its
// exchanges, those of the sessions involved, those the finding cites, and gaps that
// fall within it.
func flowEvents(src Source, xs []*model.Exchange, q exchangeQuery, f *model.Finding) []*model.Event {
	refs, ids, seqs := map[string]bool{}, map[string]bool{}, map[uint64]bool{}
	if q.Session != "" {
		refs[q.Session] = true
	}
	if f != nil {
		for _, r := range f.Sessions {
			refs[r] = true
		}
		for _, s := range f.Events {
			seqs[s] = true
		}
	}
	var first, last time.Time
	for _, x := range xs {
		ids[x.ID] = true
		for _, r := range exchangeRefs(x) {
			refs[r] = true
		}
		if first.IsZero() || x.Start.Before(first) {
			first = x.Start
		}
		if t := responseTime(x); t.After(last) {
			last = t
		}
	}
	objs, _ := src.Since(0, 0)
	var out []*model.Event
	for _, o := range objs {
		e, ok := o.(*model.Event)
		if !ok {
			continue
		}
		switch {
		case e.Kind == model.KindGap:
			if !first.IsZero() && !e.Time.Before(first) && !e.Time.After(last.Add(time.Second)) {
				out = append(out, e)
			}
		case ids[e.Exchange] && e.Exchange != "", seqs[e.Seq],
			e.Session != nil && refs[e.Session.Ref], e.From != nil && refs[e.From.Ref]:
			out = append(out, e)
		}
	}
	return out
}

// exchangeRefs lists the sessions an exchange carried, set or held back.
func exchangeRefs(x *model.Exchange) []string {
	var out []string
	add := func(r string) {
		if r != "" {
			out = append(out, r)
		}
	}
	add(x.SessionRef)
	for _, c := range x.CookiesSent {
		add(c.SessionRef)
	}
	for _, c := range x.SetCookies {
		add(c.SessionRef)
	}
	for _, c := range x.CookiesBlocked {
		add(c.SessionRef)
	}
	return out
}

// upstreamName is the lane an exchange's response comes from: the upstream the proxy
// used, or the URL's host for a HAR.
func upstreamName(x *model.Exchange) string {
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

// arrowHead is the path of an arrowhead pointing at x along a horizontal line.
func arrowHead(x, y, dir int) string {
	b := x - dir*8
	return fmt.Sprintf("M%d,%d L%d,%d L%d,%d Z", x, y, b, y-4, b, y+4)
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

// layoutFlow merges exchanges (oldest first) and events into steps in true time order
// and lays them out: the latest flowMaxRows steps, one row each. cited holds the
// exchange ids and "#seq" of events to highlight.
func layoutFlow(xs []*model.Exchange, events []*model.Event, cited map[string]bool) views.Flow {
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
	f := views.Flow{Total: len(steps), LaneTop: flowLaneTop}
	if len(steps) > flowMaxRows {
		steps = steps[len(steps)-flowMaxRows:]
	}
	f.Shown = len(steps)

	// Lanes: the browser, the upstreams in order of appearance, the store.
	f.Lanes = append(f.Lanes, views.FlowLane{Kind: "browser", Name: "browser", Title: "The browser (the client of the requests)"})
	laneOf := map[string]int{}
	clients := map[model.Client]bool{}
	for _, s := range steps {
		if s.x == nil {
			continue
		}
		clients[s.x.Client] = true
		name := upstreamName(s.x)
		if _, ok := laneOf[name]; ok {
			continue
		}
		if len(f.Lanes)-1 >= flowMaxUpstreams {
			if _, ok := laneOf["\x00other"]; !ok {
				laneOf["\x00other"] = len(f.Lanes)
				f.Lanes = append(f.Lanes, views.FlowLane{Kind: "upstream", Name: "other upstreams", Title: "Further upstreams share this lane"})
			}
			laneOf[name] = laneOf["\x00other"]
			continue
		}
		laneOf[name] = len(f.Lanes)
		f.Lanes = append(f.Lanes, views.FlowLane{Kind: "upstream", Name: truncate(name, 30), Title: "Upstream " + name})
	}
	if len(f.Lanes) == 1 {
		f.Lanes = append(f.Lanes, views.FlowLane{Kind: "upstream", Name: "app", Title: "The app (no request in this flow)"})
	}
	f.Lanes = append(f.Lanes, views.FlowLane{Kind: "store", Name: "store", Title: "The session store"})
	for i := range f.Lanes {
		f.Lanes[i].X = flowLaneX0 + i*flowLaneGap
	}
	browserX, storeX := f.Lanes[0].X, f.Lanes[len(f.Lanes)-1].X
	laneX := func(x *model.Exchange) int { return f.Lanes[laneOf[upstreamName(x)]].X }
	f.Width = storeX + flowLabelRoom
	manyClients := len(clients) > 1

	inView := map[string]*model.Exchange{}
	for _, s := range steps {
		if s.x != nil {
			inView[s.x.ID] = s.x
		}
	}
	redirects := map[string]int{}
	y := flowFirstY
	var t0, prev time.Time
	for i, s := range steps {
		if i == 0 {
			t0 = s.t
		} else if gap := s.t.Sub(prev); gap > flowPause {
			f.Rows = append(f.Rows, views.FlowRow{Kind: "pause", Y: y - 4, Label: "⋯ " + durationMS(gap) + " later",
				LabelX: (browserX + storeX) / 2, LabelY: y - 2, Anchor: "middle", Title: "Nothing happened for " + durationMS(gap)})
			y += 22
		}
		prev = s.t
		var r views.FlowRow
		switch {
		case s.e != nil:
			r = eventRow(s.e, inView, storeX, laneX)
		case s.resp:
			r = responseRow(s.x, browserX, laneX(s.x), redirects)
		default:
			r = requestRow(s.x, browserX, laneX(s.x), manyClients)
		}
		r.Y, r.Time, r.ISO = y, after(s.t, t0), s.t.UTC().Format(time.RFC3339Nano)
		r.Title += " · " + s.t.Local().Format("15:04:05.000")
		if r.LabelY == 0 {
			r.LabelY = y - 6
		}
		first := y + 14
		if s.e != nil {
			r.LabelY = y + 4
			first = y + 18
		}
		for j := range r.Marks {
			r.Marks[j].Y = first + j*flowLine
		}
		if r.X1 != r.X2 {
			dir := 1
			if r.X2 < r.X1 {
				dir = -1
			}
			r.Head = arrowHead(r.X2, y, dir)
		}
		height := 30 + len(r.Marks)*flowLine
		if s.e != nil {
			height = 24 + len(r.Marks)*flowLine
		}
		if (s.x != nil && cited[s.x.ID]) || (s.e != nil && cited["#"+strconv.FormatUint(s.e.Seq, 10)]) {
			r.Class = strings.TrimSpace(r.Class + " cited")
			r.BandY, r.BandH = y-18, height
		}
		f.Rows = append(f.Rows, r)
		y += height
	}
	f.Height = y + 4
	return f
}

// requestRow is a request arrow, browser → upstream, with the session cookies the
// browser sent and the ones it held back.
func requestRow(x *model.Exchange, browserX, upX int, manyClients bool) views.FlowRow {
	label := x.Method + " " + requestPath(x.URL)
	r := views.FlowRow{Kind: "request", X1: browserX, X2: upX - 3, Label: truncate(label, flowLabelChars),
		LabelX: (browserX + upX) / 2, Anchor: "middle", URL: exchangeURL(x.ID), Exchange: x.ID, Seq: x.Seq,
		Title: label + " · " + x.ID}
	mid := r.LabelX
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
	r.Marks = boundMarks(marks, mid, "middle")
	return r
}

// responseRow is a response arrow, upstream → browser: status, Location, and each
// Set-Cookie with the browser's verdict. A redirect the client already got from the
// same URL to the same place is marked: that is what a login loop looks like.
func responseRow(x *model.Exchange, browserX, upX int, redirects map[string]int) views.FlowRow {
	label := strconv.Itoa(x.Status)
	class := ""
	switch c := statusClass(x); c {
	case "s-failed":
		label, class = "no response", "error"
	case "s-3xx":
		class = "redirect"
		if x.Location != "" {
			label += " → " + x.Location
		}
	case "s-4xx", "s-5xx":
		class = "error"
	}
	r := views.FlowRow{Kind: "response", Class: class, X1: upX, X2: browserX + 3, Label: truncate(label, flowLabelChars),
		LabelX: (browserX + upX) / 2, Anchor: "middle", URL: exchangeURL(x.ID), Exchange: x.ID, Seq: x.Seq,
		Title: label + " · " + x.ID}
	if x.Status != 0 {
		r.Status = strconv.Itoa(x.Status)
	}
	var marks []views.FlowMark
	if class == "redirect" {
		key := clientHost(x.Client.Addr) + "\x00" + x.Client.UA + "\x00" + x.Method + " " + requestPath(x.URL) + "\x00" + x.Location
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
	r.Marks = boundMarks(marks, r.LabelX, "middle")
	return r
}

// eventRow is a store event on the store lane, with an arrow from the upstream that
// caused it when that exchange is in the flow. A write that lands after that
// exchange's response reached the browser is marked: the browser may already be
// reading the session it needs (a stale read).
func eventRow(e *model.Event, inView map[string]*model.Exchange, storeX int, laneX func(*model.Exchange) int) views.FlowRow {
	r := views.FlowRow{Kind: "event", Class: "k-" + string(e.Kind), DotX: storeX, LabelX: storeX + 12, Anchor: "start",
		Seq: e.Seq, Exchange: e.Exchange, URL: eventURL(e.Seq)}
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
	if x := inView[e.Exchange]; x != nil && e.Exchange != "" {
		r.X1, r.X2 = laneX(x), storeX-7
		r.Class += " write"
		if lateWrite(e, x) {
			r.Class += " late"
			marks = append(marks, views.FlowMark{Text: "written " + durationMS(e.Time.Sub(responseTime(x))) + " after the response", Class: "late"})
		}
	} else if e.Exchange != "" {
		marks = append(marks, views.FlowMark{Text: "by request " + truncate(e.Exchange, 24), Class: "muted"})
	}
	r.Marks = boundMarks(marks, r.LabelX, "start")
	return r
}

// boundMarks keeps flowMarks annotation lines, counting the rest, and places them.
func boundMarks(ms []views.FlowMark, x int, anchor string) []views.FlowMark {
	if len(ms) > flowMarks+1 {
		n := len(ms) - flowMarks
		ms = append(ms[:flowMarks], views.FlowMark{Text: "+" + strconv.Itoa(n) + " more", Class: "muted"})
	}
	for i := range ms {
		ms[i].X, ms[i].Anchor = x, anchor
	}
	return ms
}
