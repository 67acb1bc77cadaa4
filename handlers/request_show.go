package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/diagnose"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// findExchange looks an exchange up in the live log, or in its HAR import when the id
// is an import's. The error wraps inspector.ErrExchangeNotFound when neither has it.
func (h *Handlers) findExchange(id string) (*model.Exchange, exchangeSet, error) {
	notFound := fmt.Errorf("exchange %q: %w", truncate(id, 60), inspector.ErrExchangeNotFound)
	if id == "" || len(id) > 200 {
		return nil, exchangeSet{}, notFound
	}
	harID := importOf(id)
	set, err := h.exchangeSet(harID)
	if err != nil {
		return nil, set, notFound
	}
	if harID == "" {
		x, err := h.d.Src.Exchange(id)
		return x, set, err
	}
	xs := set.query(inspector.ExchangeQuery{IDs: []string{id}, Limit: 1})
	if len(xs) == 0 {
		return nil, set, notFound
	}
	return xs[0], set, nil
}

// responseTime is when the browser had the response's headers (status, Location,
// Set-Cookie): what it acts on. diagnose owns the definition, so the screens and the
// stale-read rule measure a late write from the same instant.
func responseTime(x *model.Exchange) time.Time { return diagnose.ResponseSentAt(x) }

// lateWrite reports whether a store event landed after the exchange's response
// headers had reached the browser, which may then already be reading the session it
// needs. The stale-read rule draws the same line: diagnose owns it.
func lateWrite(e *model.Event, x *model.Exchange) bool {
	return diagnose.WrittenAfterResponse(x, e.Time)
}

// lateBy is how long after the response's headers a late write landed, "30 ms";
// empty when the write was in time.
func lateBy(e *model.Event, x *model.Exchange) string {
	if !lateWrite(e, x) {
		return ""
	}
	return durationMS(diagnose.WriteLag(x, e.Time))
}

// after is a time relative to a start, "+12 ms".
func after(t, start time.Time) string {
	if t.IsZero() || start.IsZero() {
		return ""
	}
	d := t.Sub(start)
	if d < 0 {
		return "−" + durationMS(-d)
	}
	return "+" + durationMS(d)
}

// browserError matches Chromium's net error names, which a HAR may record for a
// failed entry; other error texts may hold URLs with session ids and are not shown.
var browserError = regexp.MustCompile(`^net::ERR_[A-Z_]+$`)

// RequestShow renders one exchange: timing, client, each cookie with the browser's
// verdict, each Set-Cookie with its attributes and verdict, the store events it
// caused, and the findings that cite it.
func (h *Handlers) RequestShow(c echo.Context) error {
	id := c.Param("id")
	x, set, err := h.findExchange(id)
	if errors.Is(err, inspector.ErrExchangeNotFound) {
		return h.ErrorPage(c, http.StatusNotFound, "Request not found",
			fmt.Sprintf("No kept exchange has the id %q. The log keeps the latest exchanges only (--exchange-log), and HAR imports within --har-budget, the oldest dropped first; older ones are gone.", truncate(id, 60)),
			views.Link{Text: "Go to Requests", URL: "/requests"})
	}
	if err != nil {
		return fmt.Errorf("exchange %s: %w", id, err)
	}
	harID := ""
	if set.har != nil {
		harID = set.har.ID
	}
	vm := views.RequestPage{Layout: h.Layout(x.Method+" "+truncate(x.URL, 60), "requests"), ID: x.ID, Method: x.Method,
		Target: x.URL, StatusClass: statusClass(x), Location: x.Location, Start: stamp(x.Start),
		HeadersSent: clock(x.HeadersSent), End: clock(x.End), HeadersAt: after(x.HeadersSent, x.Start),
		EndAt: after(x.End, x.Start), ClientAddr: x.Client.Addr, UA: x.Client.UA, Upstream: x.Upstream,
		Source: x.Source, JSONURL: "/api/exchanges/" + url.PathEscape(x.ID)}
	if x.Status != 0 {
		vm.Status = strconv.Itoa(x.Status)
	}
	if !x.End.IsZero() {
		vm.Duration = durationMS(x.End.Sub(x.Start))
	}
	if x.Error != "" || x.Status == 0 {
		vm.Failed = "No response reached the browser."
		switch {
		case x.Source == model.SourceProxy:
			vm.Failed = "No response: the upstream did not answer, and the proxy answered 502 Bad Gateway (sessionscope's log has the error)."
		case browserError.MatchString(x.Error):
			vm.Failed = "No response: the browser recorded " + x.Error + "."
		}
	}
	base, tableBase := "/flow", "/requests"
	if set.har != nil {
		vm.HAR = &views.Link{Text: set.har.Name, URL: "/har/" + url.PathEscape(set.har.ID)}
		tableBase = vm.HAR.URL
	}
	scoped := func(f views.ExchangeFilter) url.Values {
		v := filterValues(f)
		if harID != "" {
			v.Set("har", harID)
		}
		return v
	}
	cf := clientFilter(x.Client)
	if x.Client.Addr != "" || x.Client.UA != "" {
		vm.ClientURL = withQuery(tableBase, filterValues(cf))
		vm.Links = append(vm.Links, views.Link{Text: "Flow of this client", URL: withQuery(base, scoped(cf))})
	}
	if x.SessionRef != "" {
		vm.Session = &views.Link{Text: x.SessionRef, URL: sessionURL(x.SessionRef)}
		sf := views.ExchangeFilter{Session: x.SessionRef}
		vm.Links = append(vm.Links, views.Link{Text: "Flow of session " + x.SessionRef, URL: withQuery(base, scoped(sf))},
			views.Link{Text: "Requests of session " + x.SessionRef, URL: withQuery(tableBase, filterValues(sf))})
	}

	for _, sc := range x.CookiesSent {
		m := views.CookieMark{Name: sc.Name, Verdict: "sent", Ref: sc.SessionRef}
		if sc.SessionRef != "" {
			m.RefURL = sessionURL(sc.SessionRef)
		}
		vm.Cookies = append(vm.Cookies, m)
	}
	for _, b := range x.CookiesBlocked {
		vm.Cookies = append(vm.Cookies, blockedMark(b))
	}
	for _, sc := range x.SetCookies {
		vm.SetCookies = append(vm.SetCookies, setCookieView(sc, x.Start))
		deletes := sc.MaxAge != nil && *sc.MaxAge <= 0 || sc.Expires != nil && sc.Expires.Before(x.Start)
		if sc.SessionRef != "" && !deletes && sc.SessionRef != x.SessionRef && !hasLink(vm.Given, sc.SessionRef) {
			vm.Given = append(vm.Given, views.Link{Text: sc.SessionRef, URL: sessionURL(sc.SessionRef)})
		}
	}
	if x.ValuesStripped {
		vm.Notes = append(vm.Notes, "The cookie values were stripped from this request (a sanitized HAR export): the sessions they belong to could not be worked out.")
	}
	if x.Upgraded {
		vm.Notes = append(vm.Notes, "A websocket: the end is when the tunnel closed.")
	}

	for _, f := range set.findings {
		for _, xid := range f.Exchanges {
			if xid == x.ID {
				vm.Findings = append(vm.Findings, findingTraffic(findingView(f), f, harID))
				break
			}
		}
	}
	if set.har != nil {
		vm.EventsNote = "A HAR holds the HTTP side only: watch the store and proxy the app (serve --proxy-to) to see the writes a request causes."
	} else {
		vm.EventsNote = "No store event in the recent history is tied to this request: it wrote no session, or the write could not be tied to it."
		for _, e := range h.d.Src.Events(inspector.EventQuery{Exchanges: []string{x.ID}}) {
			re := views.RequestEvent{Seq: e.Seq, Kind: string(e.Kind), Time: clock(e.Time), After: after(e.Time, x.Start),
				Late: lateWrite(e, x), LateBy: lateBy(e, x), Detail: eventDetail(e), JSONURL: eventURL(e.Seq)}
			if e.Session != nil {
				re.Ref, re.RefURL = e.Session.Ref, sessionURL(e.Session.Ref)
			}
			vm.Events = append(vm.Events, re)
		}
	}
	return Render(c, http.StatusOK, views.RequestView(vm))
}

// setCookieView is a Set-Cookie line with every attribute and the verdict.
func setCookieView(sc model.SetCookie, at time.Time) views.SetCookieView {
	v := views.SetCookieView{Name: sc.Name, Domain: sc.Domain, Path: sc.Path, SameSite: sc.SameSite, Secure: sc.Secure,
		HTTPOnly: sc.HTTPOnly, Partitioned: sc.Partitioned, Ref: sc.SessionRef, Verdict: setCookieVerdict(sc, at),
		Reason: sc.Reason, ParseError: sc.ParseError}
	if sc.Expires != nil {
		v.Expires = sc.Expires.UTC().Format(http.TimeFormat)
	}
	if sc.MaxAge != nil {
		v.MaxAge = strconv.Itoa(*sc.MaxAge)
		if *sc.MaxAge == 0 {
			v.MaxAge = "0 (delete)"
		}
	}
	if sc.SessionRef != "" {
		v.RefURL = sessionURL(sc.SessionRef)
	}
	return v
}

// hasLink reports whether links already name text.
func hasLink(links []views.Link, text string) bool {
	for _, l := range links {
		if l.Text == text {
			return true
		}
	}
	return false
}
