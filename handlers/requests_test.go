package handlers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sessionscope/sessionscope/assets"
	"github.com/sessionscope/sessionscope/handlers"
	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// The Requests methods of the fake source: it has no traffic. trafficSource below
// adds exchanges and HAR imports.
func (f *fakeSource) Exchanges(inspector.ExchangeQuery) []*model.Exchange { return nil }
func (f *fakeSource) Exchange(id string) (*model.Exchange, error) {
	return nil, fmt.Errorf("exchange %q: %w", id, inspector.ErrExchangeNotFound)
}
func (f *fakeSource) ImportHAR(io.Reader, string) (inspector.HARImport, error) {
	return inspector.HARImport{}, errors.New("the fake source imports nothing")
}
func (f *fakeSource) HARImports() []inspector.HARImport { return nil }
func (f *fakeSource) HARImport(id string) (inspector.HARImport, error) {
	return inspector.HARImport{}, fmt.Errorf("%q: %w", id, inspector.ErrHARImportNotFound)
}
func (f *fakeSource) HARExchanges(id string, _ inspector.ExchangeQuery) ([]*model.Exchange, error) {
	return nil, fmt.Errorf("%q: %w", id, inspector.ErrHARImportNotFound)
}

// trafficSource is the fake source with an exchange log (queried like the
// inspector's) and the HAR imports of a real Inspector over an idle store.
type trafficSource struct {
	*fakeSource
	xs []*model.Exchange // oldest first, seq ascending
	in *inspector.Inspector
}

func newTrafficSource() *trafficSource {
	return &trafficSource{fakeSource: newFakeSource(), in: inspector.New(idleStore{}, inspector.Config{})}
}

func (s *trafficSource) add(x *model.Exchange) *model.Exchange {
	x.Type = model.TypeExchange
	x.Seq = uint64(len(s.xs)*10 + 1000) // seqs shared with events in the real inspector
	s.xs = append(s.xs, x)
	return x
}

func (s *trafficSource) Exchanges(q inspector.ExchangeQuery) []*model.Exchange {
	if q.Limit <= 0 {
		q.Limit = 200
	}
	var out []*model.Exchange
	for i := len(s.xs) - 1; i >= 0 && len(out) < q.Limit; i-- {
		x := s.xs[i]
		if !q.Match(x) {
			continue
		}
		out = append(out, x.Clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func (s *trafficSource) Exchange(id string) (*model.Exchange, error) {
	for _, x := range s.xs {
		if x.ID == id {
			return x.Clone(), nil
		}
	}
	return nil, fmt.Errorf("exchange %q: %w", id, inspector.ErrExchangeNotFound)
}
func (s *trafficSource) ImportHAR(r io.Reader, name string) (inspector.HARImport, error) {
	return s.in.ImportHAR(r, name)
}
func (s *trafficSource) HARImports() []inspector.HARImport { return s.in.HARImports() }
func (s *trafficSource) HARImport(id string) (inspector.HARImport, error) {
	return s.in.HARImport(id)
}
func (s *trafficSource) HARExchanges(id string, q inspector.ExchangeQuery) ([]*model.Exchange, error) {
	return s.in.HARExchanges(id, q)
}

// idleStore is a store that reports nothing.
type idleStore struct{}

func (idleStore) Name() string     { return "idle" }
func (idleStore) Describe() string { return "idle test store" }
func (idleStore) Run(ctx context.Context, _ backend.Feed) error {
	<-ctx.Done()
	return nil
}
func (idleStore) Read(_ context.Context, reqs []backend.ReadRequest) []backend.ReadResult {
	return make([]backend.ReadResult, len(reqs))
}

// newTrafficApp mounts the Requests, flow, HAR and exchange API handlers.
func newTrafficApp(t *testing.T, src handlers.Source) *echo.Echo {
	t.Helper()
	set, err := assets.New()
	if err != nil {
		t.Fatal(err)
	}
	h := handlers.New(handlers.Deps{Src: src, Asset: set.URL})
	e := echo.New()
	e.GET("/requests", h.RequestsList)
	e.GET("/requests/:id", h.RequestShow)
	e.POST("/requests/har", h.HARUpload)
	e.GET("/har/:id", h.HARShow)
	e.GET("/flow", h.FlowShow)
	e.GET("/findings", h.FindingsList)
	e.GET("/api/exchanges", h.APIExchanges)
	e.GET("/api/exchanges/:id", h.APIExchange)
	return e
}

const (
	refA = "41ed6986151a" // the session the login sets
	refB = "db227112a94b" // the session of the second attempt
)

// Hostile strings an app (or an attacker) controls: URL paths, cookie names,
// Location, User-Agent.
const (
	hostileName = `<img src=x onerror=alert(1)>`
	hostilePath = `/<script>alert(1)</script>?q="><img src=x onerror=alert(1)>`
	hostileLoc  = `javascript:alert(1)`
)

func boolp(b bool) *bool { return &b }

// loginLoop fills src with a login loop (the session cookie has Path=/admin, so the
// browser never sends it to /dashboard), an unrelated client, and a hostile exchange.
// It returns the exchanges in time order.
func loginLoop(src *trafficSource, t0 time.Time) []*model.Exchange {
	chrome := model.Client{Addr: "10.0.0.1:50001", UA: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}
	chrome2 := chrome
	chrome2.Addr = "10.0.0.1:50002" // another connection of the same browser
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	x := func(id string, start int, c model.Client, method, u string, status int, loc string) *model.Exchange {
		return &model.Exchange{ID: id, Start: at(start), HeadersSent: at(start + 8), End: at(start + 10), Method: method,
			URL: "https://app.test" + u, Status: status, Location: loc, Client: c, Upstream: "127.0.0.1:8000", Source: model.SourceProxy}
	}
	blocked := func(ref, path string) []model.BlockedCookie {
		return []model.BlockedCookie{{Name: "PHPSESSID", SessionRef: ref, Reason: "NotOnPath",
			Detail: "PHPSESSID has Path=/admin but the request went to " + path}}
	}
	x0 := x("p1-1", 0, chrome, "GET", "/dashboard", 302, "/login")
	x1 := x("p1-2", 100, chrome, "GET", "/login", 200, "")
	x2 := x("p1-3", 200, chrome2, "POST", "/login", 302, "/dashboard")
	x2.SetCookies = []model.SetCookie{
		{Name: "PHPSESSID", Path: "/admin", HTTPOnly: true, SessionRef: refA, Stored: boolp(true)},
		{Name: "tracking", SameSite: "None", Stored: boolp(false), Reason: "SameSiteNoneInsecure"},
		{Name: "theme"},
	}
	x3 := x("p1-4", 300, chrome, "GET", "/dashboard", 302, "/login")
	x3.CookiesBlocked = blocked(refA, "/dashboard")
	x3.CookiesSent = []model.SentCookie{{Name: "theme"}}
	x4 := x("p1-5", 400, chrome2, "GET", "/login", 200, "")
	x4.CookiesBlocked = blocked(refA, "/login")
	x5 := x("p1-6", 500, chrome, "POST", "/login", 302, "/dashboard")
	x5.CookiesBlocked = blocked(refA, "/login")
	x5.SetCookies = []model.SetCookie{{Name: "PHPSESSID", Path: "/admin", HTTPOnly: true, SessionRef: refB, Stored: boolp(true)}}
	x6 := x("p1-7", 600, chrome, "GET", "/dashboard", 302, "/login")
	x6.CookiesBlocked = blocked(refB, "/dashboard")
	// Another browser that works, and a hostile one.
	other := x("p1-8", 700, model.Client{Addr: "10.0.0.2:40000", UA: "curl/8.5.0"}, "GET", "/account", 200, "")
	other.SessionRef = "aaaaaaaaaaaa"
	other.CookiesSent = []model.SentCookie{{Name: "sid", SessionRef: "aaaaaaaaaaaa"}}
	evil := x("p1-9", 800, model.Client{Addr: "10.0.0.3:1", UA: hostileName}, "GET", hostilePath, 302, hostileLoc)
	evil.CookiesSent = []model.SentCookie{{Name: hostileName}}
	evil.CookiesBlocked = []model.BlockedCookie{{Name: hostileName, Reason: "SecureOnly", Detail: hostileName}}
	evil.SetCookies = []model.SetCookie{{Name: hostileName, Domain: hostileName, Path: hostilePath, Stored: boolp(false), Reason: "InvalidDomain"}}
	evil.Upstream = hostileName
	xs := []*model.Exchange{x0, x1, x2, x3, x4, x5, x6, other, evil}
	for _, x := range xs {
		src.add(x)
	}
	return xs
}

// trafficFixture is a source with a login loop, its findings and its store events.
type trafficFixture struct {
	src      *trafficSource
	app      *echo.Echo
	xs       []*model.Exchange
	loop     model.Finding
	notSent  model.Finding
	t0       time.Time
	lateWrit uint64 // seq of the write that landed after the login POST's response
}

func newTrafficFixture(t *testing.T) *trafficFixture {
	t.Helper()
	src := newTrafficSource()
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	xs := loginLoop(src, t0)
	f := &trafficFixture{src: src, xs: xs, t0: t0}
	f.notSent = model.Finding{Type: model.TypeFinding, ID: "cookie-not-sent-1", Rule: "cookie-not-sent", Severity: model.SeverityError,
		Title: "The browser did not send the session cookie PHPSESSID (NotOnPath)", Detail: "Path=/admin", Fix: "Use Path=/",
		Exchanges: []string{"p1-4", "p1-5", "p1-6", "p1-7"}, Sessions: []string{refA}, Count: 4, FirstSeen: t0, LastSeen: t0}
	f.loop = model.Finding{Type: model.TypeFinding, ID: "login-loop-1", Rule: "login-loop", Severity: model.SeverityError,
		Title: "Login loop: the browser is sent back to log in again", Detail: "…", Fix: "Fix the root cause",
		Exchanges: []string{"p1-3", "p1-4", "p1-7"}, Count: 2, FirstSeen: t0, LastSeen: t0}
	storeOnly := model.Finding{Type: model.TypeFinding, ID: "no-server-expiry-1", Rule: "no-server-expiry", Severity: model.SeverityWarning,
		Title: "No TTL", Sessions: []string{refA}, Count: 1, FirstSeen: t0, LastSeen: t0}
	src.findings = []model.Finding{f.notSent, f.loop, storeOnly}

	// Store events: the login created the session while serving the POST, then wrote
	// it again 30 ms after the redirect response had left (a stale read in the making).
	ttl := int64(1440)
	info := &model.SessionInfo{Ref: refA, ID: "abcd…yz", Framework: "php", KeyPrefix: "PHPREDIS_SESSION:"}
	src.hub.Publish(&model.Event{Type: model.TypeEvent, Time: t0.Add(204 * time.Millisecond), Kind: model.KindCreated,
		Session: info, Backend: "redis", TTL: &ttl, Exchange: "p1-3"})
	late := &model.Event{Type: model.TypeEvent, Time: t0.Add(238 * time.Millisecond), Kind: model.KindUpdated,
		Session: info, Backend: "redis", TTL: &ttl, Exchange: "p1-3", Changed: []string{"user_id"}}
	src.hub.Publish(late)
	f.lateWrit = late.Seq
	// An event of a session no request touched: not in the flow.
	src.publishEvent(model.KindCreated, "bbbbbbbbbbbb", "efgh…ij", "php")
	f.app = newTrafficApp(t, src)
	return f
}

// rowIDs returns the data-id of every request row, in page order.
func rowIDs(doc *uitest.Doc) []string {
	var ids []string
	for _, r := range doc.ByTestID("request-row") {
		id, _ := uitest.Attr(r, "data-id")
		ids = append(ids, id)
	}
	return ids
}

func rowByID(t *testing.T, doc *uitest.Doc, id string) *htmlNode {
	t.Helper()
	for _, r := range doc.ByTestID("request-row") {
		if v, _ := uitest.Attr(r, "data-id"); v == id {
			return r
		}
	}
	t.Fatalf("no request row %s among %v", id, rowIDs(doc))
	return nil
}

// noHostileHref fails when an href or xlink:href holds a javascript: URL.
func noHostileHref(t *testing.T, doc *uitest.Doc) {
	t.Helper()
	for _, n := range uitest.All(doc.Root, func(n *htmlNode) bool { _, ok := uitest.Attr(n, "href"); return ok }) {
		if h, _ := uitest.Attr(n, "href"); strings.HasPrefix(strings.TrimSpace(strings.ToLower(h)), "javascript:") {
			t.Errorf("<%s href=%q>", n.Data, h)
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
	}
}

func TestRequestsScreen(t *testing.T) {
	t.Parallel()
	f := newTrafficFixture(t)

	t.Run("newest first, with the verdict columns", func(t *testing.T) {
		status, body := get(t, f.app, "/requests")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		noHostileHref(t, doc)
		if got := strings.Join(rowIDs(doc), " "); got != "p1-9 p1-8 p1-7 p1-6 p1-5 p1-4 p1-3 p1-2 p1-1" {
			t.Errorf("rows %s, want newest first", got)
		}
		if _, hidden := uitest.Attr(doc.One("empty-state"), "hidden"); !hidden {
			t.Error("the empty state is shown above rows")
		}
		if live, _ := uitest.Attr(doc.One("requests-table"), "hidden"); live != "" {
			t.Error("the table is hidden")
		}

		// The login POST: the session cookie stored ✓, a SameSite=None cookie rejected
		// with Chromium's reason, a cookie without verdict.
		post := rowByID(t, doc, "p1-3")
		sets := uitest.ByTestID(post, "set-cookie")
		if len(sets) != 2 {
			t.Fatalf("Set-Cookie marks %d, want 2 with a verdict", len(sets))
		}
		if v, _ := uitest.Attr(sets[0], "data-verdict"); v != "stored" || !strings.Contains(uitest.Text(sets[0]), "PHPSESSID ✓") {
			t.Errorf("first Set-Cookie %q verdict %q", uitest.Text(sets[0]), v)
		}
		if v, _ := uitest.Attr(sets[1], "data-verdict"); v != "rejected" || !strings.Contains(uitest.Text(sets[1]), "✗ SameSiteNoneInsecure") {
			t.Errorf("second Set-Cookie %q verdict %q", uitest.Text(sets[1]), v)
		}
		if !strings.Contains(uitest.Text(uitest.ByTestID(post, "set-cookies")[0]), "theme") {
			t.Error("a Set-Cookie without verdict is not listed")
		}
		if c, _ := uitest.Attr(post, "class"); !strings.Contains(c, "s-3xx") {
			t.Errorf("redirect row class %q", c)
		}
		// Then the browser holds PHPSESSID back: struck through, with the reason.
		bounce := rowByID(t, doc, "p1-4")
		bl := uitest.ByTestID(bounce, "cookie-blocked")
		if len(bl) != 1 {
			t.Fatalf("blocked marks %d", len(bl))
		}
		if r, _ := uitest.Attr(bl[0], "data-reason"); r != "NotOnPath" {
			t.Errorf("blocked reason %q", r)
		}
		if len(uitest.All(bl[0], func(n *htmlNode) bool { return n.Data == "s" })) != 1 {
			t.Error("the blocked cookie is not struck through")
		}
		if title, _ := uitest.Attr(bl[0], "title"); !strings.Contains(title, "Path=/admin") {
			t.Errorf("blocked detail %q", title)
		}
		if txt := uitest.Text(uitest.ByTestID(bounce, "cookies-sent")[0]); !strings.Contains(txt, "theme") || !strings.Contains(txt, "NotOnPath") {
			t.Errorf("cookie sent cell %q", txt)
		}
		// A session cookie sent links to its session.
		ok := rowByID(t, doc, "p1-8")
		refs := uitest.ByTestID(ok, "cookie-ref")
		if href, _ := uitest.Attr(refs[0], "href"); len(refs) != 1 || href != "/sessions/aaaaaaaaaaaa" {
			t.Errorf("session link %v", refs)
		}
		if txt := uitest.Text(ok); !strings.Contains(txt, "10.0.0.2 · curl/8.5.0") || !strings.Contains(txt, "10 ms") {
			t.Errorf("client or duration missing: %q", txt)
		}
		chrome := rowByID(t, doc, "p1-1")
		if txt := uitest.Text(chrome); !strings.Contains(txt, "10.0.0.1 · Chrome/131") || !strings.Contains(txt, "/login") {
			t.Errorf("row %q", txt)
		}
		link := uitest.ByTestID(chrome, "request-link")[0]
		if href, _ := uitest.Attr(link, "href"); href != "/requests/p1-1" {
			t.Errorf("request link %q", href)
		}
		// The hostile exchange is text.
		evil := rowByID(t, doc, "p1-9")
		if txt := uitest.Text(evil); !strings.Contains(txt, hostilePath) || !strings.Contains(txt, hostileLoc) || !strings.Contains(txt, hostileName) {
			t.Errorf("hostile row text %q", txt)
		}
		doc.One("har-upload")
		if a, _ := uitest.Attr(doc.One("har-upload"), "action"); a != "/requests/har" {
			t.Errorf("upload action %q", a)
		}
		if href, _ := uitest.Attr(doc.One("requests-flow"), "href"); href != "/flow" {
			t.Errorf("flow link %q", href)
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			name, query, want string
		}{
			{"session", "session=" + refA, "p1-6 p1-5 p1-4 p1-3"},
			{"redirects", "status=3xx", "p1-9 p1-7 p1-6 p1-4 p1-3 p1-1"},
			{"client across connections", "client=10.0.0.1", "p1-7 p1-6 p1-5 p1-4 p1-3 p1-2 p1-1"},
			{"client and User-Agent", "client=10.0.0.2&ua=" + url.QueryEscape("curl/8.5.0"), "p1-8"},
			{"finding", "finding=login-loop-1", "p1-7 p1-4 p1-3"},
			{"session and status", "session=" + refA + "&status=2xx", "p1-5"},
			{"no match", "session=cccccccccccc", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				doc := getPage(t, f.app, "/requests?"+tc.query, 200)
				if got := strings.Join(rowIDs(doc), " "); got != tc.want {
					t.Errorf("rows %q, want %q", got, tc.want)
				}
				if tc.want == "" {
					e := doc.One("empty-state")
					if _, hidden := uitest.Attr(e, "hidden"); hidden || !strings.Contains(uitest.Text(e), "No exchange matches") {
						t.Errorf("empty state %q hidden %v", uitest.Text(e), hidden)
					}
				}
			})
		}
		doc := getPage(t, f.app, "/requests?finding=login-loop-1", 200)
		fd := doc.One("requests-finding")
		if !strings.Contains(uitest.Text(fd), "Login loop") {
			t.Errorf("finding block %q", uitest.Text(fd))
		}
		if href, _ := uitest.Attr(doc.One("requests-flow"), "href"); href != "/flow?finding=login-loop-1" {
			t.Errorf("flow link %q", href)
		}
		if live, _ := uitest.Attr(doc.One("requests-table"), "hidden"); live != "" {
			t.Error("table hidden")
		}
		body := doc.ByTestID("requests-table")[0]
		tb := uitest.All(body, func(n *htmlNode) bool { return n.Data == "tbody" })[0]
		if l, _ := uitest.Attr(tb, "data-live"); l != "false" {
			t.Errorf("a finding's table is live: %q", l)
		}
	})

	t.Run("bad queries say what to fix", func(t *testing.T) {
		for _, tc := range []struct{ query, want string }{
			{"session=" + url.QueryEscape(hostileName), "session ref"},
			{"status=600", "2xx, 3xx"},
			{"before=x", "seq"},
			{"limit=0", "1 to 1000"},
			{"finding=nope", "no finding has this id"},
			{"har=" + url.QueryEscape("../x"), "imported HAR"},
		} {
			status, body := get(t, f.app, "/requests?"+tc.query)
			if status != 400 {
				t.Errorf("%s: status %d", tc.query, status)
				continue
			}
			noRawMarkup(t, body)
			doc := uitest.Parse(t, body)
			if txt := uitest.Text(doc.One("query-error")); !strings.Contains(txt, tc.want) {
				t.Errorf("%s: error %q lacks %q", tc.query, txt, tc.want)
			}
			doc.One("har-upload")
		}
	})

	t.Run("paging by seq", func(t *testing.T) {
		var seen []string
		target := "/requests?limit=4"
		for page := 0; target != ""; page++ {
			if page > 5 {
				t.Fatal("paging does not end")
			}
			doc := getPage(t, f.app, target, 200)
			seen = append(seen, rowIDs(doc)...)
			target = ""
			if doc.Has("next-page") {
				target, _ = uitest.Attr(doc.One("next-page"), "href")
				if !strings.Contains(target, "before=") || !strings.Contains(target, "limit=4") {
					t.Errorf("next link %q", target)
				}
			}
			if page > 0 && !doc.Has("newest-page") {
				t.Error("an older page has no link back to the newest")
			}
		}
		if got := strings.Join(seen, " "); got != "p1-9 p1-8 p1-7 p1-6 p1-5 p1-4 p1-3 p1-2 p1-1" {
			t.Errorf("pages %s", got)
		}
		// Paging with a filter the log cannot apply.
		doc := getPage(t, f.app, "/requests?limit=2&client=10.0.0.1", 200)
		next, _ := uitest.Attr(doc.One("next-page"), "href")
		doc = getPage(t, f.app, next, 200)
		if got := strings.Join(rowIDs(doc), " "); got != "p1-5 p1-4" {
			t.Errorf("second page of a client %q (%s)", got, next)
		}
	})

	t.Run("empty state explains how to get traffic", func(t *testing.T) {
		app := newTrafficApp(t, newTrafficSource())
		doc := getPage(t, app, "/requests", 200)
		e := doc.One("empty-state")
		txt := uitest.Text(e)
		if _, hidden := uitest.Attr(e, "hidden"); hidden || !strings.Contains(txt, "--proxy-to") || !strings.Contains(txt, "HAR") {
			t.Errorf("empty state %q", txt)
		}
		if h, _ := uitest.Attr(doc.One("requests-table"), "hidden"); h != "" && h != "hidden" {
			t.Errorf("table hidden attr %q", h)
		}
		if _, hidden := uitest.Attr(doc.One("requests-table"), "hidden"); !hidden {
			t.Error("an empty table is shown")
		}
		doc.One("har-upload")
	})
}

func TestRequestShow(t *testing.T) {
	t.Parallel()
	f := newTrafficFixture(t)

	t.Run("a bounce: the cookie held back, and why", func(t *testing.T) {
		doc := getPage(t, f.app, "/requests/p1-4", 200)
		if got := uitest.Text(doc.One("request-url")); got != "https://app.test/dashboard" {
			t.Errorf("url %q", got)
		}
		if got := uitest.Text(doc.One("request-status")); got != "302" {
			t.Errorf("status %q", got)
		}
		if got := uitest.Text(doc.One("request-location")); got != "→ /login" {
			t.Errorf("location %q", got)
		}
		cookies := doc.ByTestID("request-cookie")
		verdicts := map[string]string{}
		for _, c := range cookies {
			name, _ := uitest.Attr(c, "data-name")
			v, _ := uitest.Attr(c, "data-verdict")
			verdicts[name] = v
			if v == "blocked" {
				if r, _ := uitest.Attr(c, "data-reason"); r != "NotOnPath" || !strings.Contains(uitest.Text(c), "Path=/admin but the request went to /dashboard") {
					t.Errorf("blocked cookie %q reason %q", uitest.Text(c), r)
				}
			}
		}
		if verdicts["PHPSESSID"] != "blocked" || verdicts["theme"] != "sent" {
			t.Errorf("verdicts %v", verdicts)
		}
		for _, id := range []string{"timing-start", "timing-headers", "timing-end", "request-client", "request-findings", "request-events"} {
			doc.One(id)
		}
		if !strings.Contains(uitest.Text(doc.One("timing-headers")), "+8 ms") || !strings.Contains(uitest.Text(doc.One("timing-end")), "+10 ms") {
			t.Errorf("timing %q / %q", uitest.Text(doc.One("timing-headers")), uitest.Text(doc.One("timing-end")))
		}
		var rules []string
		for _, fd := range doc.ByTestID("finding") {
			r, _ := uitest.Attr(fd, "data-rule")
			rules = append(rules, r)
		}
		if strings.Join(rules, " ") != "cookie-not-sent login-loop" {
			t.Errorf("findings citing p1-4: %v", rules)
		}
		links := map[string]bool{}
		for _, l := range doc.ByTestID("request-nav") {
			h, _ := uitest.Attr(l, "href")
			links[h] = true
		}
		if !links["/flow?client=10.0.0.1&ua="+url.QueryEscape(f.xs[0].Client.UA)] {
			t.Errorf("no client flow link among %v", links)
		}
	})

	t.Run("the login POST: attributes, verdicts, the events it caused", func(t *testing.T) {
		doc := getPage(t, f.app, "/requests/p1-3", 200)
		var got []string
		for _, c := range doc.ByTestID("response-cookie") {
			name, _ := uitest.Attr(c, "data-name")
			v, _ := uitest.Attr(c, "data-verdict")
			r, _ := uitest.Attr(c, "data-reason")
			got = append(got, name+"="+v+"/"+r)
		}
		if strings.Join(got, " ") != "PHPSESSID=stored/ tracking=rejected/SameSiteNoneInsecure theme=/" {
			t.Errorf("Set-Cookie verdicts %v", got)
		}
		sc := doc.ByTestID("response-cookie")[0]
		attrs := map[string]string{}
		for _, dt := range uitest.All(sc, func(n *htmlNode) bool { return n.Data == "dt" }) {
			if dd := dt.NextSibling; dd != nil {
				attrs[uitest.Text(dt)] = uitest.Text(dd)
			}
		}
		want := map[string]string{"Domain": "(host-only)", "Path": "/admin", "HttpOnly": "yes", "Secure": "no",
			"SameSite": "unspecified (Lax by default)", "Max-Age": "—", "Expires": "—"}
		for k, v := range want {
			if attrs[k] != v {
				t.Errorf("Set-Cookie %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
			}
		}
		if !strings.Contains(uitest.Text(sc), refA) {
			t.Errorf("Set-Cookie %q lacks its session", uitest.Text(sc))
		}
		evs := doc.ByTestID("request-event")
		if len(evs) != 2 {
			t.Fatalf("events %d, want the create and the late update", len(evs))
		}
		if late, _ := uitest.Attr(evs[0], "data-late"); late != "false" {
			t.Errorf("the create during the request is marked late")
		}
		if late, _ := uitest.Attr(evs[1], "data-late"); late != "true" || !strings.Contains(uitest.Text(evs[1]), "+38 ms") {
			t.Errorf("the update after the response: late %q text %q", late, uitest.Text(evs[1]))
		}
		if doc.Has("request-session") {
			t.Error("the POST carried no session, yet the page links one")
		}
	})

	t.Run("hostile values are text", func(t *testing.T) {
		status, body := get(t, f.app, "/requests/p1-9")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		noHostileHref(t, doc)
		if got := uitest.Text(doc.One("request-location")); got != "→ "+hostileLoc {
			t.Errorf("location %q", got)
		}
		if got := uitest.Text(doc.One("request-url")); got != "https://app.test"+hostilePath {
			t.Errorf("url %q", got)
		}
	})

	t.Run("unknown ids are a 404 linking to Requests", func(t *testing.T) {
		for _, id := range []string{"p9-9", "h00000000-1", url.PathEscape("<script>")} {
			status, body := get(t, f.app, "/requests/"+id)
			if status != 404 {
				t.Errorf("%s: status %d", id, status)
			}
			noRawMarkup(t, body)
			if !strings.Contains(string(body), `href="/requests"`) {
				t.Errorf("%s: no link to Requests", id)
			}
		}
	})
}

// flowRows reads the flow's rows: kind, time, exchange, status, class.
type flowRowInfo struct {
	kind, iso, exchange, status, class, text string
}

func flowRows(doc *uitest.Doc) []flowRowInfo {
	var out []flowRowInfo
	for _, r := range doc.ByTestID("flow-row") {
		var i flowRowInfo
		i.kind, _ = uitest.Attr(r, "data-kind")
		i.iso, _ = uitest.Attr(r, "data-time")
		i.exchange, _ = uitest.Attr(r, "data-exchange")
		i.status, _ = uitest.Attr(r, "data-status")
		i.class, _ = uitest.Attr(r, "class")
		i.text = uitest.Text(r)
		out = append(out, i)
	}
	return out
}

func TestFlow(t *testing.T) {
	t.Parallel()
	f := newTrafficFixture(t)

	t.Run("a session's login loop, in time order", func(t *testing.T) {
		status, body := get(t, f.app, "/flow?client=10.0.0.1")
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		svg := doc.One("flow")
		if svg.Data != "svg" {
			t.Fatalf("flow is a <%s>", svg.Data)
		}
		var lanes []string
		for _, l := range doc.ByTestID("flow-lane") {
			k, _ := uitest.Attr(l, "data-kind")
			n, _ := uitest.Attr(l, "data-name")
			lanes = append(lanes, k+":"+n)
		}
		if strings.Join(lanes, " ") != "browser:browser upstream:127.0.0.1:8000 store:store" {
			t.Errorf("lanes %v", lanes)
		}
		rows := flowRows(doc)
		var last time.Time
		var seq []string
		for _, r := range rows {
			at, err := time.Parse(time.RFC3339Nano, r.iso)
			if err != nil {
				t.Fatalf("row time %q: %v", r.iso, err)
			}
			if at.Before(last) {
				t.Errorf("row %s %s at %s comes after %s", r.kind, r.exchange, at, last)
			}
			last = at
			seq = append(seq, r.kind[:3]+":"+r.exchange)
		}
		want := "req:p1-1 res:p1-1 req:p1-2 res:p1-2 req:p1-3 eve:p1-3 res:p1-3 eve:p1-3 req:p1-4 res:p1-4 req:p1-5 res:p1-5 req:p1-6 res:p1-6 req:p1-7 res:p1-7"
		if got := strings.Join(seq, " "); got != want {
			t.Errorf("steps\n got %s\nwant %s", got, want)
		}
		byKey := map[string]flowRowInfo{}
		for _, r := range rows {
			byKey[r.kind+" "+r.exchange] = r
		}
		first := byKey["response p1-1"]
		if first.status != "302" || !strings.Contains(first.class, "redirect") || !strings.Contains(first.text, "302 → /login") {
			t.Errorf("first redirect %+v", first)
		}
		if strings.Contains(first.class, "repeat") {
			t.Error("the first redirect is marked as a repeat")
		}
		again := byKey["response p1-7"]
		if !strings.Contains(again.class, "repeat") || !strings.Contains(again.text, "3rd time") {
			t.Errorf("the loop's third bounce %+v", again)
		}
		if r := byKey["response p1-3"]; !strings.Contains(r.text, "Set-Cookie PHPSESSID ✓") || !strings.Contains(r.text, "Set-Cookie tracking ✗ SameSiteNoneInsecure") {
			t.Errorf("login response marks %q", r.text)
		}
		if r := byKey["request p1-4"]; !strings.Contains(r.text, "✗ PHPSESSID NOT sent: NotOnPath") || !strings.Contains(r.text, "GET /dashboard") {
			t.Errorf("bounce request %q", r.text)
		}
		var late []flowRowInfo
		for _, r := range rows {
			if r.kind == "event" && strings.Contains(r.class, "late") {
				late = append(late, r)
			}
		}
		if len(late) != 1 || !strings.Contains(late[0].text, "written 30 ms after the response") || !strings.Contains(late[0].text, "updated "+refA) {
			t.Errorf("late writes %+v", late)
		}
		if strings.Contains(string(body), "bbbbbbbbbbbb") {
			t.Error("an unrelated session's event is in the flow")
		}
		if got := uitest.Text(doc.ByTestID("flow-row")[0]); !strings.Contains(got, "+0 ms") {
			t.Errorf("first row time %q", got)
		}
		if href, _ := uitest.Attr(doc.One("flow-requests"), "href"); href != "/requests?client=10.0.0.1" {
			t.Errorf("requests link %q", href)
		}
	})

	t.Run("a finding's flow highlights what it cites", func(t *testing.T) {
		doc := getPage(t, f.app, "/flow?finding=login-loop-1", 200)
		doc.One("finding")
		var cited []string
		for _, r := range flowRows(doc) {
			if strings.Contains(r.class, "cited") {
				cited = append(cited, r.kind[:3]+":"+r.exchange)
			}
		}
		if got := strings.Join(cited, " "); got != "req:p1-3 res:p1-3 req:p1-4 res:p1-4 req:p1-7 res:p1-7" {
			t.Errorf("cited rows %s", got)
		}
	})

	t.Run("hostile labels are text", func(t *testing.T) {
		status, body := get(t, f.app, "/flow?client=10.0.0.3")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		noRawMarkup(t, body)
		doc := uitest.Parse(t, body)
		noHostileHref(t, doc)
		if !strings.Contains(uitest.Text(doc.One("flow")), "302 → javascript:alert(1)") {
			t.Errorf("flow text %q", uitest.Text(doc.One("flow")))
		}
	})

	t.Run("bounded, and says so", func(t *testing.T) {
		src := newTrafficSource()
		t0 := time.Now().Add(-time.Hour)
		for i := 0; i < 150; i++ {
			src.add(&model.Exchange{ID: "p2-" + strconv.Itoa(i), Start: t0.Add(time.Duration(i) * time.Second), Method: "GET",
				URL: "http://a.test/" + strconv.Itoa(i), Status: 200, Upstream: "u:1"})
		}
		doc := getPage(t, newTrafficApp(t, src), "/flow", 200)
		if n := len(doc.ByTestID("flow-row")); n != 200 {
			t.Errorf("%d rows, want 200", n)
		}
		if txt := uitest.Text(doc.One("flow-bounded")); !strings.Contains(txt, "last 200 of 300") {
			t.Errorf("bound note %q", txt)
		}
	})

	t.Run("empty", func(t *testing.T) {
		doc := getPage(t, newTrafficApp(t, newTrafficSource()), "/flow?session="+refA, 200)
		doc.One("flow-empty")
	})

	t.Run("unknown HAR import", func(t *testing.T) {
		status, _ := get(t, f.app, "/flow?har=h00000000")
		if status != 404 {
			t.Errorf("status %d", status)
		}
	})
}

func TestFindingTrafficLinks(t *testing.T) {
	t.Parallel()
	f := newTrafficFixture(t)
	doc := getPage(t, f.app, "/requests/p1-4", 200)
	for _, fd := range doc.ByTestID("finding") {
		id, _ := uitest.Attr(fd, "data-id")
		req := uitest.ByTestID(fd, "finding-requests")
		flow := uitest.ByTestID(fd, "finding-flow")
		if len(req) != 1 || len(flow) != 1 {
			t.Fatalf("finding %s: %d requests links, %d flow links", id, len(req), len(flow))
		}
		if h, _ := uitest.Attr(req[0], "href"); h != "/requests?finding="+id {
			t.Errorf("requests link %q", h)
		}
		if h, _ := uitest.Attr(flow[0], "href"); h != "/flow?finding="+id {
			t.Errorf("flow link %q", h)
		}
	}
}

// upload posts a file to /requests/har as the form does.
func upload(t *testing.T, app http.Handler, name string, content io.Reader, accept string) *httptest.ResponseRecorder {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("har", name)
		if err == nil {
			_, err = io.Copy(part, content)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req := httptest.NewRequest(http.MethodPost, "/requests/har", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, req)
	return rec
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHARUpload(t *testing.T) {
	t.Parallel()
	src := newTrafficSource()
	app := newTrafficApp(t, src)
	har := readFile(t, "../inspector/diagnose/testdata/loop_path.har")

	rec := upload(t, app, "loop_path.har", bytes.NewReader(har), "")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/har/h") {
		t.Fatalf("upload: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	page := rec.Header().Get("Location")
	id := strings.TrimPrefix(page, "/har/")

	t.Run("the import's page", func(t *testing.T) {
		doc := getPage(t, app, page, 200)
		if got := uitest.Text(doc.One("har-entries")); got != "7" {
			t.Errorf("entries %q", got)
		}
		groups := map[string]*htmlNode{}
		for _, g := range doc.ByTestID("finding-group") {
			r, _ := uitest.Attr(g, "data-rule")
			groups[r] = g
		}
		loop := groups["login-loop"]
		if loop == nil || groups["cookie-not-sent"] == nil {
			t.Fatalf("finding groups %v", groups)
		}
		if !strings.Contains(uitest.Text(loop), "Fix") {
			t.Error("the login-loop finding has no fix")
		}
		fl := uitest.ByTestID(loop, "finding-flow")
		if h, _ := uitest.Attr(fl[0], "href"); len(fl) != 1 || h != "/flow?finding="+url.QueryEscape(mustAttr(t, uitest.ByTestID(loop, "finding")[0], "data-id"))+"&har="+id {
			t.Errorf("finding flow link %q", h)
		}
		rq := uitest.ByTestID(loop, "finding-requests")
		if h, _ := uitest.Attr(rq[0], "href"); !strings.HasPrefix(h, page+"?finding=") {
			t.Errorf("finding requests link %q", h)
		}
		if n := len(doc.ByTestID("request-row")); n != 7 {
			t.Errorf("%d request rows", n)
		}
		doc.One("flow")
		var redirects, repeats int
		for _, r := range flowRows(doc) {
			if r.status == "302" {
				redirects++
			}
			if strings.Contains(r.class, "repeat") {
				repeats++
			}
		}
		if redirects != 5 || repeats != 3 {
			t.Errorf("%d redirects, %d repeats in the flow; want 5 and 3", redirects, repeats)
		}
		// The requests of one finding, on the import's page.
		h, _ := uitest.Attr(rq[0], "href")
		// Both login POSTs and both bounces: each time round the loop is cited.
		if n := len(getPage(t, app, h, 200).ByTestID("request-row")); n != 4 {
			t.Errorf("%s: %d rows, want the 4 the login loop cites", h, n)
		}
	})

	t.Run("its requests and flow", func(t *testing.T) {
		doc := getPage(t, app, "/requests/"+id+"-3", 200)
		bl := doc.ByTestID("request-cookie")
		if len(bl) != 1 || mustAttr(t, bl[0], "data-reason") != "NotOnPath" {
			t.Errorf("HAR exchange cookies %d", len(bl))
		}
		if h, _ := uitest.Attr(doc.One("request-har"), "href"); h != page {
			t.Errorf("import link %q", h)
		}
		doc = getPage(t, app, "/flow?har="+id, 200)
		if n := len(doc.ByTestID("flow-row")); n != 14 {
			t.Errorf("%d flow rows, want 14", n)
		}
		// The Requests screen lists the import, and sends ?har= to its page.
		doc = getPage(t, app, "/requests", 200)
		if n := len(doc.ByTestID("har-import-row")); n != 1 {
			t.Errorf("%d import rows", n)
		}
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/requests?har="+id+"&status=3xx", nil))
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != page+"?status=3xx" {
			t.Errorf("?har= redirect %d %q", rec.Code, rec.Header().Get("Location"))
		}
	})

	t.Run("JSON", func(t *testing.T) {
		rec := upload(t, app, "loop.har", bytes.NewReader(har), "application/json")
		if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"rule":"login-loop"`) {
			t.Errorf("JSON upload: %d %s", rec.Code, rec.Body)
		}
	})

	t.Run("bad files: one line, nothing lost", func(t *testing.T) {
		before := len(src.HARImports())
		for _, tc := range []struct {
			name, body, want string
			status           int
		}{
			{"x.png", "\x89PNG\r\n", "x.png is not a readable HAR (invalid JSON", 400},
			{"x.har", `{"log": {"entries": [{"startedDateTime": "yesterday"}]}}`, "entry 0", 400},
			{hostileName + ".har", `{}`, "Save all as HAR", 400},
			{"", `{}`, "no file was chosen", 400},
		} {
			rec := upload(t, app, tc.name, strings.NewReader(tc.body), "")
			if rec.Code != tc.status {
				t.Errorf("%s: status %d", tc.name, rec.Code)
			}
			noRawMarkup(t, rec.Body.Bytes())
			doc := uitest.Parse(t, rec.Body.Bytes())
			msg := uitest.Text(doc.One("upload-error"))
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("%s: message %q lacks %q", tc.name, msg, tc.want)
			}
			doc.One("har-upload")
		}
		if n := len(src.HARImports()); n != before {
			t.Errorf("%d imports after failures, want %d", n, before)
		}
		req := httptest.NewRequest(http.MethodPost, "/requests/har", strings.NewReader("har=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, req)
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), "not a file form") {
			t.Errorf("urlencoded post: %d", rec.Code)
		}
	})

	t.Run("too large", func(t *testing.T) {
		if testing.Short() {
			t.Skip("streams 200 MB")
		}
		// One entry whose response body alone passes the limit: bodies are skipped as
		// they stream past, so only the limit stops it.
		big := io.MultiReader(strings.NewReader(`{"log": {"version": "1.2", "entries": [{"startedDateTime": "2026-03-14T09:26:10.000Z",
			"request": {"method": "GET", "url": "https://a.test/", "headers": []},
			"response": {"status": 200, "headers": [], "content": {"text": "`), io.LimitReader(letters{}, handlers.MaxHARUpload),
			strings.NewReader(`"}}}]}}`))
		rec := upload(t, app, "big.har", big, "")
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", rec.Code)
		}
		msg := uitest.Text(uitest.Parse(t, rec.Body.Bytes()).One("upload-error"))
		if !strings.Contains(msg, "larger than 200.0 MiB") || !strings.Contains(msg, "sessionscope analyze big.har") {
			t.Errorf("message %q", msg)
		}
	})

	t.Run("unknown import", func(t *testing.T) {
		for _, p := range []string{"/har/h00000000", "/har/" + url.PathEscape(hostileName)} {
			status, body := get(t, app, p)
			if status != 404 {
				t.Errorf("%s: %d", p, status)
			}
			noRawMarkup(t, body)
		}
	})
}

type letters struct{}

func (letters) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func mustAttr(t *testing.T, n *htmlNode, key string) string {
	t.Helper()
	v, ok := uitest.Attr(n, key)
	if !ok {
		t.Fatalf("<%s> has no %s", n.Data, key)
	}
	return v
}

func TestAPIExchanges(t *testing.T) {
	t.Parallel()
	f := newTrafficFixture(t)
	var resp struct {
		Exchanges []map[string]any `json:"exchanges"`
		Before    uint64           `json:"before"`
	}
	getJSON(t, f.app, "/api/exchanges?session="+refA, 200, &resp)
	var ids []string
	for _, x := range resp.Exchanges {
		ids = append(ids, x["id"].(string))
		if x["type"] != "exchange" {
			t.Errorf("type %v", x["type"])
		}
	}
	if strings.Join(ids, " ") != "p1-3 p1-4 p1-5 p1-6" || resp.Before != 0 {
		t.Errorf("ids %v before %d, want oldest first and no older page", ids, resp.Before)
	}
	blocked := resp.Exchanges[1]["cookies_blocked"].([]any)[0].(map[string]any)
	if blocked["reason"] != "NotOnPath" || blocked["session_ref"] != refA {
		t.Errorf("cookies_blocked %v", blocked)
	}
	getJSON(t, f.app, "/api/exchanges?limit=2", 200, &resp)
	if len(resp.Exchanges) != 2 || resp.Before == 0 {
		t.Errorf("limit 2: %d, before %d", len(resp.Exchanges), resp.Before)
	}
	var one map[string]any
	getJSON(t, f.app, "/api/exchanges/p1-3", 200, &one)
	if one["id"] != "p1-3" || one["set_cookies"].([]any)[1].(map[string]any)["reason"] != "SameSiteNoneInsecure" {
		t.Errorf("one exchange %v", one)
	}
	for _, k := range []string{"RawURL", "raw_url", "value", "Value"} {
		if _, ok := one[k]; ok {
			t.Errorf("the exchange JSON has %s", k)
		}
	}
	var e struct {
		Error string `json:"error"`
	}
	getJSON(t, f.app, "/api/exchanges/p9-9", 404, &e)
	getJSON(t, f.app, "/api/exchanges?status=9xx", 400, &e)
	if !strings.Contains(e.Error, "2xx") {
		t.Errorf("error %q", e.Error)
	}
	getJSON(t, f.app, "/api/exchanges?har=h00000000", 404, &e)
}
