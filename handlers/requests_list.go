package handlers

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/views"
)

// RequestsPageSize is how many exchanges one page of the Requests table shows.
const RequestsPageSize = 100

// Cookies listed per cell of the Requests table; the rest are counted.
const cellCookies = 4

var statusOptions = [...]views.Option{
	{Value: "", Label: "any"},
	{Value: "2xx", Label: "2xx"},
	{Value: "3xx", Label: "3xx redirects"},
	{Value: "4xx", Label: "4xx"},
	{Value: "5xx", Label: "5xx"},
	{Value: "failed", Label: "failed"},
}

// exchangeQuery is a parsed Requests, flow or API query.
type exchangeQuery struct {
	views.ExchangeFilter
	Before uint64
	Limit  int
}

// parseExchangeQuery reads session, client, ua, status, finding, har, before and
// limit. Its errors are meant for the user: they name the parameter and what it
// accepts.
func parseExchangeQuery(c echo.Context, defaultLimit int) (exchangeQuery, error) {
	q := exchangeQuery{Limit: defaultLimit, ExchangeFilter: views.ExchangeFilter{
		Session: strings.TrimSpace(c.QueryParam("session")), Client: strings.TrimSpace(c.QueryParam("client")),
		UA: c.QueryParam("ua"), Status: c.QueryParam("status"), Finding: strings.TrimSpace(c.QueryParam("finding")),
		HAR: strings.TrimSpace(c.QueryParam("har")),
	}}
	switch {
	case q.Session != "" && !validRef(q.Session):
		return q, fmt.Errorf("session %q: use a session ref, up to 12 lowercase hex digits (as on the Sessions screen)", truncate(q.Session, 40))
	case len(q.Client) > 100:
		return q, errors.New("client: use the client's address (an IP, without the port)")
	case len(q.UA) > 2000:
		return q, errors.New("ua: the User-Agent is longer than 2000 characters")
	case len(q.Finding) > 200:
		return q, errors.New("finding: use a finding id as the Findings screen shows it")
	case q.HAR != "" && !validImportID(q.HAR):
		return q, fmt.Errorf("har %q: use the id of an imported HAR (as in /har/ID)", truncate(q.HAR, 40))
	}
	if _, ok := statusClasses[q.Status]; !ok && q.Status != "" {
		return q, fmt.Errorf("status %q: use 2xx, 3xx, 4xx, 5xx or failed", truncate(q.Status, 20))
	}
	if s := c.QueryParam("before"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return q, fmt.Errorf("before %q: use the seq of an exchange (a positive integer), as the Older link does", truncate(s, 40))
		}
		q.Before = n
	}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return q, fmt.Errorf("limit %q: use a number from 1 to 1000", truncate(s, 20))
		}
		q.Limit = n
	}
	return q, nil
}

var statusClasses = map[string]bool{"2xx": true, "3xx": true, "4xx": true, "5xx": true, "failed": true}

// validImportID reports whether s looks like a HAR import id (h and 8 hex digits).
func validImportID(s string) bool {
	if len(s) != 9 || s[0] != 'h' {
		return false
	}
	return validHex(s[1:])
}

func validHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// importOf returns the import id an exchange id belongs to ("h1a2b3c4d-12" ->
// "h1a2b3c4d"), or "" for exchanges of the live log.
func importOf(exchangeID string) string {
	id, _, ok := strings.Cut(exchangeID, "-")
	if !ok || !validImportID(id) {
		return ""
	}
	return id
}

// filterValues encodes a filter as query parameters, leaving out empty ones.
func filterValues(f views.ExchangeFilter) url.Values {
	v := url.Values{}
	for _, p := range [...][2]string{{"session", f.Session}, {"client", f.Client}, {"ua", f.UA},
		{"status", f.Status}, {"finding", f.Finding}, {"har", f.HAR}} {
		if p[1] != "" {
			v.Set(p[0], p[1])
		}
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// exchangeSet is where a query's exchanges come from: the live log, or one import.
type exchangeSet struct {
	query    func(inspector.ExchangeQuery) []*model.Exchange
	findings []model.Finding
	har      *inspector.HARImport
}

// exchangeSet picks the live log or the import ?har= names.
func (h *Handlers) exchangeSet(harID string) (exchangeSet, error) {
	if harID == "" {
		return exchangeSet{query: h.d.Src.Exchanges, findings: h.d.Src.Findings()}, nil
	}
	imp, err := h.d.Src.HARImport(harID)
	if err != nil {
		return exchangeSet{}, err
	}
	return exchangeSet{har: &imp, findings: imp.Findings, query: func(q inspector.ExchangeQuery) []*model.Exchange {
		xs, _ := h.d.Src.HARExchanges(harID, q)
		return xs
	}}, nil
}

// finding returns the finding with id among the set's findings.
func (s exchangeSet) finding(id string) (model.Finding, bool) {
	for _, f := range s.findings {
		if f.ID == id {
			return f, true
		}
	}
	return model.Finding{}, false
}

// errUnknownFinding is the query error for a ?finding= that names no finding.
var errUnknownFinding = errors.New("no finding has this id: it may be from before a restart; open it from the Findings screen")

// list returns up to q.Limit exchanges matching q, newest first, and the seq to pass as
// before for the next (older) page, 0 on the last page.
func (s exchangeSet) list(q exchangeQuery) ([]*model.Exchange, uint64, error) {
	dq := inspector.ExchangeQuery{SessionRef: q.Session, ClientHost: q.Client, UA: q.UA, Status: q.Status,
		BeforeSeq: q.Before, Limit: q.Limit + 1} // one more tells whether an older page exists
	if q.Finding != "" {
		f, ok := s.finding(q.Finding)
		if !ok {
			return nil, 0, errUnknownFinding
		}
		if len(f.Exchanges) == 0 {
			return nil, 0, nil
		}
		dq.IDs = f.Exchanges
	}
	xs := s.query(dq) // oldest first
	slices.Reverse(xs)
	if len(xs) > q.Limit {
		return xs[:q.Limit], xs[q.Limit-1].Seq, nil
	}
	return xs, 0, nil
}

// statusClass is an exchange's status class as a CSS class: s-2xx ... s-failed.
func statusClass(x *model.Exchange) string { return "s-" + inspector.StatusClass(x) }

// shortUA is a User-Agent cut to the product a developer recognises: Chrome/131,
// Firefox/133, curl/8.5.0.
func shortUA(ua string) string {
	for _, p := range [...]string{"Edg/", "OPR/", "Firefox/", "Chrome/", "Version/", "curl/", "Wget/", "python-requests/", "Go-http-client/", "node-fetch/", "axios/"} {
		if i := strings.Index(ua, p); i >= 0 {
			name, ver := p[:len(p)-1], ua[i+len(p):]
			if j := strings.IndexAny(ver, " ;)"); j >= 0 {
				ver = ver[:j]
			}
			if k := strings.Index(ver, "."); k >= 0 && name != "curl" {
				ver = ver[:k]
			}
			if name == "Version" {
				name = "Safari"
			}
			return name + "/" + ver
		}
	}
	if f := strings.Fields(ua); len(f) > 0 {
		return truncate(f[0], 24)
	}
	return ""
}

// clientText is a client as the table shows it: address and short User-Agent.
func clientText(c model.Client) string {
	parts := []string{}
	if h := inspector.ClientHost(c.Addr); h != "" {
		parts = append(parts, h)
	}
	if s := shortUA(c.UA); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// clientFilter is the filter that selects one browser: its address and User-Agent.
func clientFilter(c model.Client) views.ExchangeFilter {
	return views.ExchangeFilter{Client: inspector.ClientHost(c.Addr), UA: c.UA}
}

// durationMS is a short duration: 850 µs, 12 ms, 1.24 s, 2m03s.
func durationMS(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < time.Microsecond:
		return "0 ms"
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d/time.Microsecond)
	case d < time.Second:
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return durationText(d)
}

func exchangeURL(id string) string { return "/requests/" + url.PathEscape(id) }

// exchangeRow is an exchange for a Requests table.
func exchangeRow(x *model.Exchange) views.ExchangeRow {
	r := views.ExchangeRow{ID: x.ID, Seq: x.Seq, URL: exchangeURL(x.ID), Time: clock(x.Start), Method: x.Method,
		Target: x.URL, StatusClass: statusClass(x), Location: x.Location, Client: clientText(x.Client),
		ClientTitle: x.Client.UA, Upstream: cmp.Or(x.UpstreamName, x.Upstream), SessionRef: x.SessionRef}
	if x.Status != 0 {
		r.Status = strconv.Itoa(x.Status)
	}
	if r.Client == "" {
		r.Client = "—"
	} else {
		r.ClientURL = withQuery("/requests", filterValues(clientFilter(x.Client)))
	}
	switch {
	case x.Upgraded:
		r.Duration = "websocket"
	case !x.End.IsZero():
		r.Duration = durationMS(x.End.Sub(x.Start))
	}
	// Session cookies first: they are what this screen is about.
	var others []views.CookieMark
	for _, c := range x.CookiesSent {
		m := views.CookieMark{Name: c.Name, Verdict: "sent", Ref: c.SessionRef}
		if c.SessionRef != "" {
			m.RefURL = sessionURL(c.SessionRef)
			r.Sent = append(r.Sent, m)
		} else {
			others = append(others, m)
		}
	}
	r.Sent = append(r.Sent, others...)
	if len(r.Sent) > cellCookies {
		r.OtherSent = len(r.Sent) - cellCookies
		r.Sent = r.Sent[:cellCookies]
	}
	for _, b := range x.CookiesBlocked {
		r.Blocked = append(r.Blocked, blockedMark(b))
	}
	for _, sc := range x.SetCookies {
		r.SetCookies = append(r.SetCookies, setCookieMark(sc, x.Start))
	}
	if len(r.SetCookies) > cellCookies {
		r.OtherSet = len(r.SetCookies) - cellCookies
		r.SetCookies = r.SetCookies[:cellCookies]
	}
	return r
}

func blockedMark(b model.BlockedCookie) views.CookieMark {
	m := views.CookieMark{Name: b.Name, Verdict: "blocked", Reason: b.Reason, Detail: b.Detail, Ref: b.SessionRef}
	if b.SessionRef != "" {
		m.RefURL = sessionURL(b.SessionRef)
	}
	return m
}

// setCookieVerdict is the browser's verdict on a Set-Cookie line: stored, deleted (a
// cookie set to expire at once), rejected, or "" when the cookie rules were not run
// on it (not a session cookie).
func setCookieVerdict(sc model.SetCookie, at time.Time) string {
	switch {
	case sc.Stored == nil:
		return ""
	case !*sc.Stored:
		return "rejected"
	case sc.MaxAge != nil && *sc.MaxAge == 0, sc.Expires != nil && !at.IsZero() && sc.Expires.Before(at):
		return "deleted"
	}
	return "stored"
}

func setCookieMark(sc model.SetCookie, at time.Time) views.CookieMark {
	m := views.CookieMark{Name: sc.Name, Verdict: setCookieVerdict(sc, at), Reason: sc.Reason, Ref: sc.SessionRef}
	if m.Verdict == "rejected" && m.Reason == "" {
		m.Reason = "rejected"
	}
	if sc.SessionRef != "" {
		m.RefURL = sessionURL(sc.SessionRef)
	}
	return m
}

// findingTraffic fills a finding's links to its requests and flow (scoped to the HAR
// import har, when it comes from one).
func findingTraffic(v views.Finding, f model.Finding, har string) views.Finding {
	if len(f.Exchanges) == 0 {
		return v
	}
	q := url.Values{"finding": {f.ID}}
	if har != "" {
		q.Set("har", har)
	}
	v.Exchanges = len(f.Exchanges)
	v.RequestsURL = withQuery("/requests", q)
	if har != "" {
		v.RequestsURL = withQuery("/har/"+url.PathEscape(har), url.Values{"finding": {f.ID}})
	}
	v.FlowURL = withQuery("/flow", q)
	return v
}

// RequestsList renders the Requests screen: the exchanges of the live log, newest
// first, filtered by session, client, status class or finding, paged by seq; new
// exchanges are pushed in by its live socket.
func (h *Handlers) RequestsList(c echo.Context) error {
	return h.requestsPage(c, http.StatusOK, "")
}

// requestsPage renders the Requests screen, with the upload's error when one failed.
func (h *Handlers) requestsPage(c echo.Context, status int, uploadError string) error {
	vm := views.RequestsPage{Layout: h.Layout("Requests", "requests"), UploadError: uploadError, MaxUpload: bytesText(MaxHARUpload)}
	q, err := parseExchangeQuery(c, RequestsPageSize)
	if q.HAR != "" && err == nil {
		// A HAR's requests are on its own page, which takes the same filters.
		return c.Redirect(http.StatusSeeOther, withQuery("/har/"+url.PathEscape(q.HAR), withoutHAR(c.QueryParams())))
	}
	vm.Filter = q.ExchangeFilter
	vm.Filtered = q.Session != "" || q.Client != "" || q.UA != "" || q.Status != "" || q.Finding != ""
	for _, o := range statusOptions {
		o.Selected = o.Value == q.Status
		vm.Statuses = append(vm.Statuses, o)
	}
	if q.Client != "" || q.UA != "" {
		vm.ClientLabel = strings.TrimPrefix(strings.Join([]string{q.Client, shortUA(q.UA)}, " · "), " · ")
	}
	for _, imp := range h.d.Src.HARImports() {
		vm.Imports = append(vm.Imports, importRow(imp))
	}
	var xs []*model.Exchange
	var next uint64
	if err == nil {
		set, _ := h.exchangeSet("")
		if q.Finding != "" {
			if f, ok := set.finding(q.Finding); ok {
				fv := findingTraffic(findingView(f), f, "")
				vm.Finding = &fv
			}
		}
		xs, next, err = set.list(q)
		if vm.Finding != nil && next == 0 && q.Before == 0 && q.Status == "" && q.Client == "" && q.UA == "" && q.Session == "" {
			vm.Missing = max(vm.Finding.Exchanges-len(xs), 0)
		}
	}
	if err != nil {
		vm.Error = err.Error()
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
	}
	vm.Table = requestsTable(xs, next, q, "/requests")
	vm.Table.Live = q.Before == 0 && q.Finding == "" && err == nil
	if vm.Table.Live {
		vm.Layout.Socket = pageSocket(viewRequests, vm.Layout.Seq, q.ExchangeFilter)
	}
	if err == nil && (len(xs) > 0 || vm.Filtered || vm.Table.Live) {
		vm.FlowURL = withQuery("/flow", filterValues(views.ExchangeFilter{Session: q.Session, Client: q.Client, UA: q.UA, Finding: q.Finding}))
		// An empty live list has no flow yet: the link waits, hidden, for the first
		// pushed row (app.js shows it), rather than being missing until a reload.
		vm.FlowHidden = len(xs) == 0 && !vm.Filtered
	}
	vm.Proxy = proxyPanel(h.d.Src.Status())
	return Render(c, status, views.RequestsView(vm))
}

// requestsTable lays out exchanges (newest first) with the paging links of base.
func requestsTable(xs []*model.Exchange, next uint64, q exchangeQuery, base string) views.RequestsTable {
	t := views.RequestsTable{Filter: q.ExchangeFilter}
	for _, x := range xs {
		t.Rows = append(t.Rows, exchangeRow(x))
	}
	v := filterValues(q.ExchangeFilter)
	if strings.HasPrefix(base, "/har/") {
		v.Del("har")
	}
	if q.Limit != RequestsPageSize {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Before != 0 {
		t.NewestURL = withQuery(base, v)
	}
	if next != 0 {
		v.Set("before", strconv.FormatUint(next, 10))
		t.NextURL = withQuery(base, v)
	}
	return t
}

func withoutHAR(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if k != "har" {
			out[k] = vs
		}
	}
	return out
}

func importRow(imp inspector.HARImport) views.HARImportRow {
	r := views.HARImportRow{ID: imp.ID, Name: imp.Name, URL: "/har/" + url.PathEscape(imp.ID), Imported: stamp(imp.Imported),
		Entries: imp.Summary.Entries, Findings: len(imp.Findings), Truncated: imp.Truncated}
	for _, f := range imp.Findings {
		if f.Severity.Rank() > model.Severity(r.Worst).Rank() {
			r.Worst = string(f.Severity)
		}
	}
	return r
}
