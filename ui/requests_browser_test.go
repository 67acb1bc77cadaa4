package ui_test

// Real-browser tests of the Requests screen, the HAR upload and the flow view.
//
// With SESSIONSCOPE_SCREENSHOTS=<dir>, TestBrowserRequestsLive also saves the README's
// flow screenshot (flow.png) into dir.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// The Requests methods of the benchmark's source: it has no traffic.
func (s hubSource) Exchanges(inspector.ExchangeQuery) []*model.Exchange { return nil }
func (s hubSource) Exchange(id string) (*model.Exchange, error) {
	return nil, fmt.Errorf("exchange %q: %w", id, inspector.ErrExchangeNotFound)
}
func (s hubSource) ImportHAR(io.Reader, string) (inspector.HARImport, error) {
	return inspector.HARImport{}, errors.New("the benchmark source imports nothing")
}
func (s hubSource) HARImports() []inspector.HARImport { return nil }
func (s hubSource) HARImport(id string) (inspector.HARImport, error) {
	return inspector.HARImport{}, fmt.Errorf("%q: %w", id, inspector.ErrHARImportNotFound)
}
func (s hubSource) HARExchanges(id string, _ inspector.ExchangeQuery) ([]*model.Exchange, error) {
	return nil, fmt.Errorf("%q: %w", id, inspector.ErrHARImportNotFound)
}

const loopHAR = "../inspector/diagnose/testdata/loop_path.har"

// TestBrowserHARUpload: a HAR of a login loop, uploaded through the form on the
// Requests screen, lands on its page with the login-loop finding, the flow SVG with
// the repeated redirects, and its requests; a file that is not a HAR gets one line
// saying what to do, and nothing is lost.
func TestBrowserHARUpload(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)
	har, err := filepath.Abs(loopHAR)
	if err != nil {
		t.Fatal(err)
	}

	if resp := b.Navigate(d.base + "/requests"); resp.Status != http.StatusOK {
		t.Fatalf("GET /requests = %d", resp.Status)
	}
	b.WaitTestID("requests")
	if txt := b.TextByTestID("empty-state"); !strings.Contains(txt, "--proxy-to") {
		t.Errorf("empty state %q does not say how to get traffic", txt)
	}
	b.Do(chromedp.SetUploadFiles(browsertest.TestID("har-file"), []string{har}))
	if resp := b.Load(chromedp.Click(browsertest.TestID("har-submit"))); resp.Status != http.StatusOK {
		t.Fatalf("the upload ended on status %d", resp.Status)
	}
	b.WaitTestID("har-page")
	loc := browsertest.Run(b, chromedp.Location())
	if !strings.HasPrefix(loc, d.base+"/har/h") {
		t.Fatalf("after the upload at %s, want the import's page", loc)
	}
	b.WaitReady(`[data-testid="finding-group"][data-rule="login-loop"]`)
	b.WaitReady(`[data-testid="finding-group"][data-rule="cookie-not-sent"]`)
	if txt := b.TextByTestID("har-entries"); txt != "7" {
		t.Errorf("entries %q", txt)
	}
	b.WaitReady(`svg[data-testid="flow"]`)
	type row struct{ Kind, Time, Status, Class string }
	rows := browsertest.Eval[[]row](b, `Array.from(document.querySelectorAll('[data-testid="flow-row"]')).map(function (g) {
		return {Kind: g.dataset.kind, Time: g.dataset.time, Status: g.dataset.status, Class: g.getAttribute("class")};
	})`)
	if len(rows) != 14 {
		t.Errorf("%d flow rows, want 14", len(rows))
	}
	repeats := 0
	inOrder(t, func(i int) string { return rows[i].Time }, len(rows))
	for _, r := range rows {
		if strings.Contains(r.Class, "repeat") {
			repeats++
		}
	}
	if repeats != 3 {
		t.Errorf("%d repeated redirects drawn, want 3", repeats)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="request-row"]').length`); n != 7 {
		t.Errorf("%d request rows, want 7", n)
	}
	// The HAR's own requests: a bounce shows PHPSESSID held back, and why.
	bounce := browsertest.Eval[string](b, `document.querySelector('[data-testid="request-row"]:nth-child(2) [data-testid="request-link"]').getAttribute("href")`)
	b.Navigate(d.base + bounce)
	b.WaitTestID("request-detail")
	if txt := b.TextByTestID("request-cookies"); !strings.Contains(txt, "not sent NotOnPath") || !strings.Contains(txt, "Path=/admin") {
		t.Errorf("request cookies %q", txt)
	}
	assertNoXSS(t, b, "request detail")

	// The flow view of the import, from its finding.
	b.Navigate(loc)
	b.Load(chromedp.Click(`[data-testid="finding-group"][data-rule="login-loop"] [data-testid="finding-flow"]`))
	b.WaitReady(`svg[data-testid="flow"] .fl-row.cited`)
	b.WaitTestID("finding")

	// A file that is not a HAR: one line, the form again, the import still there.
	bad := filepath.Join(t.TempDir(), "screenshot.png")
	if err := os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot a har"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Navigate(d.base + "/requests")
	b.Do(chromedp.SetUploadFiles(browsertest.TestID("har-file"), []string{bad}))
	if resp := b.Load(chromedp.Click(browsertest.TestID("har-submit"))); resp.Status != http.StatusBadRequest {
		t.Errorf("a bad file answered %d, want 400", resp.Status)
	}
	msg := b.TextByTestID("upload-error")
	if !strings.Contains(msg, "screenshot.png is not a readable HAR") || !strings.Contains(msg, "Save all as HAR") {
		t.Errorf("upload error %q", msg)
	}
	b.WaitTestID("har-upload")
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="har-import-row"]').length`); n != 1 {
		t.Errorf("%d imports listed after a failed upload, want the 1 before", n)
	}
	assertNoXSS(t, b, "requests after a failed upload")
	if len(b.Exceptions()) > 0 {
		t.Errorf("uncaught exceptions: %q", b.Exceptions())
	}
}

// browserClient is the one browser of the live login loop.
var browserClient = model.Client{Addr: "127.0.0.1:51234", UA: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}

// loopApp plays a PHP app whose session cookie has Path=/admin, behind the proxy: it
// writes its sessions to Redis as phpredis does and hands each exchange to the
// inspector as the proxy would. The browser never sends the cookie to /dashboard, so
// every login ends back on the login page.
type loopApp struct {
	t   *testing.T
	env *uitest.Env
	n   int
}

func (a *loopApp) exchange(method, path string, status int, loc string, write func() (setCookie string, id string)) *model.Exchange {
	a.t.Helper()
	start := time.Now()
	var line, id string
	if write != nil {
		line, id = write()
	}
	headers := time.Now()
	a.n++
	raw := "http://app.test:8080" + path
	x := &model.Exchange{Type: model.TypeExchange, ID: fmt.Sprintf("p9-%d", a.n), Start: start, HeadersSent: headers,
		End: headers.Add(300 * time.Microsecond), Method: method, URL: raw, RawURL: raw, Status: status, Client: browserClient,
		Upstream: "127.0.0.1:8000", Source: model.SourceProxy}
	if loc != "" {
		x.Location, x.RawLocation = loc, loc
	}
	if line != "" {
		ref, _ := framework.RefMapper(nil)("PHPSESSID", id)
		x.SetCookies = []model.SetCookie{{Name: "PHPSESSID", Path: "/admin", HTTPOnly: true, SessionRef: ref, Value: id, Raw: line}}
	}
	a.env.In.PublishExchange(x)
	time.Sleep(15 * time.Millisecond) // the browser follows the redirect
	return x
}

// login plays one round of the loop and returns the session it created.
func (a *loopApp) login() string {
	a.t.Helper()
	ctx := context.Background()
	a.exchange("GET", "/dashboard", http.StatusFound, "/login", nil)
	a.exchange("GET", "/login", http.StatusOK, "", nil)
	var id string
	a.exchange("POST", "/login", http.StatusFound, "/dashboard", func() (string, string) {
		id = sid(26)
		if err := redistest.SetEx(ctx, a.env.RDB, "PHPREDIS_SESSION:"+id, phpSession("csrf", sid(40)), 1440*time.Second); err != nil {
			a.t.Fatal(err)
		}
		if err := redistest.SetEx(ctx, a.env.RDB, "PHPREDIS_SESSION:"+id, phpSession("csrf", sid(40), "user_id", 42), 1440*time.Second); err != nil {
			a.t.Fatal(err)
		}
		return "PHPSESSID=" + id + "; path=/admin; HttpOnly", id
	})
	return model.Ref(id)
}

func rowByID(id string) string { return `[data-testid="request-row"][data-id="` + id + `"]` }

// TestBrowserRequestsLive: exchanges published while the Requests screen is open
// appear in its table over the websocket, with the cookie verdicts of the live replay,
// without a reload; the flow of that browser shows the login loop; hostile values stay
// text.
func TestBrowserRequestsLive(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	b.Navigate(d.base + "/requests")
	b.WaitTestID("requests")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	if browsertest.Eval[bool](b, `document.getElementById("requests-table").hidden === false`) {
		t.Fatal("the table is shown before any request")
	}
	browsertest.Eval[int](b, `window.__sameDocument = 1`)

	app := &loopApp{t: t, env: env}
	first := app.login()
	second := app.login()
	app.exchange("GET", "/dashboard", http.StatusFound, "/login", nil)

	// Each exchange arrives over the websocket, newest first.
	b.WaitReady(rowByID("p9-7"))
	b.WaitJS("all seven rows", `document.querySelectorAll('[data-testid="request-row"]').length === 7`)
	if browsertest.Eval[int](b, `window.__sameDocument || 0`) != 1 {
		t.Fatal("the page reloaded: rows must arrive over the websocket")
	}
	ids := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid="request-row"]')).map(function (r) { return r.dataset.id })`)
	if strings.Join(ids, " ") != "p9-7 p9-6 p9-5 p9-4 p9-3 p9-2 p9-1" {
		t.Errorf("rows %v, want newest first", ids)
	}
	if !browsertest.Eval[bool](b, `document.getElementById("requests-empty").hidden`) {
		t.Error("the empty state is still shown")
	}
	// The login POST: the session cookie stored; then the browser holds it back.
	stored := browsertest.Run(b, chromedp.Attributes(chromedp.CSS(rowByID("p9-3")+` [data-testid="set-cookie"]`)))
	if stored["data-verdict"] != "stored" {
		t.Errorf("Set-Cookie on the login POST: %v", stored)
	}
	blocked := browsertest.Run(b, chromedp.Attributes(chromedp.CSS(rowByID("p9-4")+` [data-testid="cookie-blocked"]`)))
	if blocked["data-reason"] != "NotOnPath" || !strings.Contains(blocked["title"], "Path=/admin") {
		t.Errorf("blocked cookie on the bounce: %v", blocked)
	}
	if s := browsertest.Run(b, chromedp.TextContent(chromedp.CSS(rowByID("p9-4")+" .ck-blocked s"))); s != "PHPSESSID" {
		t.Errorf("struck-through name %q", s)
	}
	client := browsertest.Run(b, chromedp.TextContent(chromedp.CSS(rowByID("p9-4")+" .c-client a")))
	if client != "127.0.0.1 · Chrome/131" {
		t.Errorf("client cell %q", client)
	}

	// A pushed row and a server-rendered one look the same.
	pushed := browsertest.Eval[string](b, `document.querySelector('`+rowByID("p9-4")+`').outerHTML`)
	b.Navigate(d.base + "/requests")
	b.WaitReady(rowByID("p9-4"))
	rendered := browsertest.Eval[string](b, `document.querySelector('`+rowByID("p9-4")+`').outerHTML`)
	if norm(pushed) != norm(rendered) {
		t.Errorf("pushed and rendered rows differ:\npushed   %s\nrendered %s", norm(pushed), norm(rendered))
	}

	// j selects the newest request, Enter opens it.
	b.Do(chromedp.KeyEvent("j"))
	b.WaitReady(rowByID("p9-7") + ".selected")
	b.Load(chromedp.KeyEvent("\r"))
	b.WaitReady(`[data-testid="request-detail"][data-id="p9-7"]`)
	if txt := b.TextByTestID("request-cookies"); !strings.Contains(txt, "not sent NotOnPath") {
		t.Errorf("request cookies of the last bounce %q", txt)
	}

	// A filtered table takes only its session's exchanges.
	b.Navigate(d.base + "/requests?session=" + second)
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	evil := &model.Exchange{Type: model.TypeExchange, ID: "p9-evil", Start: time.Now(), HeadersSent: time.Now(), End: time.Now(),
		Method: "GET", URL: "http://app.test/" + xssScript, RawURL: "http://app.test/x", Status: 302, Location: xssJSURL, RawLocation: "/x",
		Client: model.Client{Addr: "10.9.9.9:1", UA: xssImg}, Upstream: xssAttr, SessionRef: second,
		CookiesSent: []model.SentCookie{{Name: xssImg, SessionRef: second}}}
	env.In.PublishExchange(evil)
	other := &model.Exchange{Type: model.TypeExchange, ID: "p9-other", Start: time.Now(), Method: "GET", URL: "http://app.test/",
		RawURL: "http://app.test/", Status: 200, Client: model.Client{Addr: "10.0.0.8:1", UA: "curl/8"}}
	env.In.PublishExchange(other)
	b.WaitReady(rowByID("p9-evil"))
	txt := browsertest.Run(b, chromedp.TextContent(chromedp.CSS(rowByID("p9-evil"))))
	for _, s := range []string{xssScript, xssJSURL, xssImg, xssAttr} {
		if !strings.Contains(txt, s) {
			t.Errorf("the pushed hostile row does not show %q as text: %q", s, txt)
		}
	}
	assertNoXSS(t, b, "requests (pushed hostile row)")
	if browsertest.Eval[bool](b, `!!document.querySelector('`+rowByID("p9-other")+`')`) {
		t.Error("a row of another session entered the filtered table")
	}

	// The flow of this browser: the loop at a glance.
	env.WaitEvent(t, model.KindCreated, first)
	env.WaitEvent(t, model.KindCreated, second)
	b.Navigate(d.base + "/flow?" + url.Values{"client": {"127.0.0.1"}, "ua": {browserClient.UA}}.Encode())
	b.WaitReady(`svg[data-testid="flow"]`)
	b.WaitReady(`[data-testid="flow-lane"][data-kind="store"]`)
	type row struct{ Kind, Time, Status, Class, Text string }
	rows := browsertest.Eval[[]row](b, `Array.from(document.querySelectorAll('[data-testid="flow-row"]')).map(function (g) {
		return {Kind: g.dataset.kind, Time: g.dataset.time, Status: g.dataset.status, Class: g.getAttribute("class"), Text: g.textContent};
	})`)
	var redirects, repeats, events int
	var created []string
	inOrder(t, func(i int) string { return rows[i].Time }, len(rows))
	for _, r := range rows {
		if r.Kind == "response" && r.Status == "302" {
			redirects++
		}
		if strings.Contains(r.Class, "repeat") {
			repeats++
		}
		if r.Kind == "event" {
			events++
			if strings.Contains(r.Text, "created") {
				created = append(created, r.Text)
			}
		}
	}
	if redirects != 5 || repeats != 3 {
		t.Errorf("%d redirects, %d repeats; want 5 and 3", redirects, repeats)
	}
	if len(created) != 2 || !strings.Contains(created[0], first) || !strings.Contains(created[1], second) {
		t.Errorf("store lane: %d events, created %q; want the two sessions the logins created", events, created)
	}
	if !strings.Contains(b.TextByTestID("flow"), "✗ PHPSESSID NOT sent: NotOnPath") {
		t.Error("the flow does not say the cookie was not sent, and why")
	}
	assertNoXSS(t, b, "flow")
	if dir := screenshotDir(t); dir != "" {
		b.Screenshot(filepath.Join(dir, "flow.png"), false)
		t.Logf("saved %s", filepath.Join(dir, "flow.png"))
	}

	// A new request while the flow is open: the page offers to redraw it.
	app.exchange("GET", "/login", http.StatusOK, "", nil)
	b.WaitVisible(`[data-testid="flow-stale"]`)
	if len(b.Exceptions()) > 0 {
		t.Errorf("uncaught exceptions: %q", b.Exceptions())
	}
}

// inOrder fails unless the n RFC 3339 times are in order.
func inOrder(t *testing.T, at func(i int) string, n int) {
	t.Helper()
	var last time.Time
	for i := 0; i < n; i++ {
		ti, err := time.Parse(time.RFC3339Nano, at(i))
		if err != nil {
			t.Fatalf("row %d: time %q: %v", i, at(i), err)
		}
		if ti.Before(last) {
			t.Errorf("row %d at %s comes after %s", i, ti.Format(time.RFC3339Nano), last.Format(time.RFC3339Nano))
		}
		last = ti
	}
}

// norm drops what legitimately differs between a pushed row and a rendered one: the
// selection state, the precision of the time attributes, how links are percent-encoded,
// and whitespace.
func norm(s string) string {
	s = strings.ReplaceAll(s, ` selected"`, `"`)
	s = isoAttr.ReplaceAllString(s, `$1="TIME"`)
	s = hrefAttr.ReplaceAllStringFunc(s, func(m string) string {
		v := html.UnescapeString(hrefAttr.FindStringSubmatch(m)[1])
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
		return `href="` + html.EscapeString(v) + `"`
	})
	return strings.Join(strings.Fields(s), " ")
}

var (
	isoAttr  = regexp.MustCompile(`(datetime|title)="\d{4}-\d\d-\d\dT[^"]*"`)
	hrefAttr = regexp.MustCompile(`href="([^"]*)"`)
)

// TestHARUploadOriginCheck: the upload is a state-changing POST: another site's form
// cannot post a HAR into the dashboard.
func TestHARUploadOriginCheck(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	body, ct := harForm(t)
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"http://evil.example", http.StatusForbidden},
		{d.base, http.StatusSeeOther},
		{"", http.StatusSeeOther}, // curl
	} {
		req, err := http.NewRequest(http.MethodPost, d.base+"/requests/har", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Origin %q: %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
	}
	if n := len(env.In.HARImports()); n != 2 {
		t.Errorf("%d imports, want the 2 same-origin uploads", n)
	}
}

func harForm(t *testing.T) ([]byte, string) {
	t.Helper()
	data, err := os.ReadFile(loopHAR)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("har", "loop_path.har")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(data)
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}
