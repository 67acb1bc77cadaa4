package ui_test

// The dashboard's main screens in real Chromium at a narrow (700 px) and a wide
// (1400 px) window: none scrolls sideways, the Requests table keeps what matters in
// view, and each screen is saved as a PNG.
//
// The PNGs go to $SESSIONSCOPE_SCREENSHOTS when set, else to the test's artifact
// directory (kept with `go test -artifacts`). With SESSIONSCOPE_UPDATE_SCREENSHOTS=1
// they also replace docs/screenshots/<screen>-<width>.png:
//
//	SESSIONSCOPE_UPDATE_SCREENSHOTS=1 go test ./ui -run TestBrowserScreens

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// updateScreenshotsVar, set to 1, makes TestBrowserScreens replace docs/screenshots.
const updateScreenshotsVar = "SESSIONSCOPE_UPDATE_SCREENSHOTS"

// Long URLs of the kind that pushed the Set-Cookie and duration columns off screen.
const (
	longInvoice = "http://shop.test:8080/account/orders/2026/11/invoices/INV-000123456789/download?format=pdf&lang=en-GB&utm_source=newsletter&utm_campaign=winter"
	longSearch  = "http://shop.test:8080/catalogue/search?q=waterproof+hiking+boots&size=44&colour=brown&sort=price-asc&page=3&filters=brand%3Aalpine%2Cmaterial%3Aleather"
)

// publishTraffic hands the inspector a browser's exchanges as the proxy would: a login
// that stores the session cookie, then pages with long URLs that send it back, a
// Set-Cookie the browser rejects, and an upstream failure. It returns the exchanges'
// ids, oldest first.
func publishTraffic(t *testing.T, env *uitest.Env, sessionID string) []string {
	t.Helper()
	ref, _ := framework.RefMapper(nil)("PHPSESSID", sessionID)
	start := time.Now().Add(-2 * time.Second)
	var ids []string
	add := func(method, raw string, status int, loc string, dur time.Duration, edit func(*model.Exchange)) {
		n := len(ids) + 1
		at := start.Add(time.Duration(n) * 150 * time.Millisecond)
		x := &model.Exchange{Type: model.TypeExchange, ID: fmt.Sprintf("sc-%d", n), Start: at, HeadersSent: at.Add(dur * 4 / 5),
			End: at.Add(dur), Method: method, URL: raw, RawURL: raw, Status: status, Client: browserClient,
			Upstream: "127.0.0.1:8000", Source: model.SourceProxy}
		if loc != "" {
			x.Location, x.RawLocation = loc, loc
		}
		if edit != nil {
			edit(x)
		}
		env.In.PublishExchange(x)
		ids = append(ids, x.ID)
	}
	sent := func(x *model.Exchange) {
		x.SessionRef = ref
		x.CookiesSent = []model.SentCookie{{Name: "PHPSESSID", SessionRef: ref, Value: sessionID}, {Name: "theme", Value: "dark"}}
	}
	add("GET", "http://shop.test:8080/login", http.StatusOK, "", 12*time.Millisecond, nil)
	add("POST", "http://shop.test:8080/login", http.StatusFound, "http://shop.test:8080/account/orders?welcome=1", 48*time.Millisecond, func(x *model.Exchange) {
		line := "PHPSESSID=" + sessionID + "; path=/; HttpOnly; SameSite=Lax"
		x.SetCookies = []model.SetCookie{{Name: "PHPSESSID", Path: "/", HTTPOnly: true, SameSite: "Lax", SessionRef: ref, Value: sessionID, Raw: line}}
	})
	add("GET", longInvoice, http.StatusOK, "", 230*time.Millisecond, sent)
	add("GET", longSearch, http.StatusOK, "", 95*time.Millisecond, func(x *model.Exchange) {
		sent(x)
		x.SetCookies = []model.SetCookie{{Name: "recently_viewed", Domain: "other.test", Path: "/", Value: "a1b2", Raw: "recently_viewed=a1b2; Domain=other.test; Path=/"}}
	})
	add("GET", "http://shop.test:8080/account/orders/2026/11/invoices/INV-000123456789/preview?page=1&zoom=fit-width&annotations=off", http.StatusBadGateway, "", 3*time.Millisecond, func(x *model.Exchange) {
		sent(x)
		x.Error = "dial tcp 127.0.0.1:8000: connect: connection refused"
	})
	return ids
}

// screen is one page to lay out and photograph.
type screen struct {
	name  string
	url   string
	ready string // a selector that exists once the page shows its content
}

// layoutFacts is what the browser measured on a page.
type layoutFacts struct {
	ScrollWidth int    `json:"scrollWidth"`
	InnerWidth  int    `json:"innerWidth"`
	Widest      string `json:"widest"` // the element reaching furthest right, when the page overflows
}

func measure(b *browsertest.Browser) layoutFacts {
	return browsertest.Eval[layoutFacts](b, `(function () {
		var w = window.innerWidth, widest = "", right = w;
		if (document.documentElement.scrollWidth > w) {
			document.querySelectorAll("body *").forEach(function (e) {
				var r = e.getBoundingClientRect();
				if (r.right > right) { right = r.right; widest = e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && e.className.baseVal === undefined ? "." + String(e.className).split(" ").join(".") : ""); }
			});
		}
		return {scrollWidth: document.documentElement.scrollWidth, innerWidth: w, widest: widest};
	})()`)
}

// cellBox is where a Requests table cell is, and whether the reader can see it
// without scrolling anything sideways.
type cellBox struct {
	Column  string  `json:"column"`
	Shown   bool    `json:"shown"`
	Left    float64 `json:"left"`
	Right   float64 `json:"right"`
	InView  bool    `json:"inView"`
	Content string  `json:"content"`
}

// requestCells measures the given columns of the Requests row with id.
func requestCells(b *browsertest.Browser, id string, columns ...string) []cellBox {
	return browsertest.Eval[[]cellBox](b, `(function (id, columns) {
		var row = document.querySelector('[data-testid="request-row"][data-id="' + id + '"]');
		var wrap = document.querySelector('[data-testid="requests-table-wrap"]').getBoundingClientRect();
		return columns.map(function (c) {
			var td = row.querySelector("td." + c);
			var r = td.getBoundingClientRect();
			var shown = getComputedStyle(td).display !== "none" && r.width > 0;
			return {column: c, shown: shown, left: r.left, right: r.right,
				inView: shown && r.left >= Math.max(0, wrap.left) - 0.5 && r.right <= Math.min(window.innerWidth, wrap.right) + 0.5,
				content: td.textContent.trim()};
		});
	})(`+browsertest.Quote(id)+`, `+jsStrings(columns)+`)`)
}

func jsStrings(ss []string) string {
	out := "["
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += browsertest.Quote(s)
	}
	return out + "]"
}

// TestBrowserScreens: Live, Sessions, Requests (with long URLs), its flow, a request, a
// session, Findings, Status and the Lab at 700 px and 1400 px. No page scrolls sideways. At 700 px the
// Requests table shows method, status, URL and both cookie verdicts; at 1400 px with
// long URLs it still shows Set-Cookie and duration, and the long URL is cut in the
// middle with the whole URL on hover.
func TestBrowserScreens(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	labBase := startLabDashboard(t)
	b := browsertest.New(t)
	b.SetViewport(1400, 900)

	sc := populate(t, env)
	loginID := sid(26)
	env.Do(t, "SETEX", "PHPREDIS_SESSION:"+loginID, "1440", phpSession("user_id", 42, "username", "alice", "csrf_token", sid(40)))
	env.WaitEvent(t, model.KindCreated, model.Ref(loginID))
	ids := publishTraffic(t, env, loginID)
	invoice, search := ids[2], ids[3]
	uitest.WaitFor(t, "the exchanges in the log", func() bool { _, err := env.In.Exchange(ids[len(ids)-1]); return err == nil })
	// The Lab with a finished run, as a trainer sees it after "Run".
	if state := runFromLabScreen(t, b, labBase, "cookie-path-mismatch", "lab-run-broken"); state == "" {
		t.Fatal("the lab run has no state")
	}

	screens := []screen{
		{"live", d.base + "/", rowSel(sc.loginRef)},
		{"sessions", d.base + "/sessions", `[data-testid="session-row"]`},
		{"requests", d.base + "/requests", rowByID(invoice)},
		{"flow", d.base + "/flow", `svg[data-testid="flow"]`},
		{"request", d.base + "/requests/" + invoice, `[data-testid="request-detail"]`},
		{"session", d.base + "/sessions/" + sc.loginRef, `[data-testid="session-detail"]`},
		{"findings", d.base + "/findings", `[data-testid="finding-group"]`},
		{"status", d.base + "/status", `[data-testid="status"]`},
		{"lab", labBase + "/lab", `[data-testid="lab-scenario"]`},
	}
	out := os.Getenv(screenshotsVar)
	if out == "" {
		out = t.ArtifactDir()
	}
	var docs string
	if os.Getenv(updateScreenshotsVar) == "1" {
		docs = filepath.Join(moduleRoot(t), "docs", "screenshots")
	}
	for _, width := range []int64{700, 1400} {
		b.SetViewport(width, 900)
		for _, s := range screens {
			b.Navigate(s.url)
			b.WaitReady(s.ready)
			b.WaitJS("the live connection", `!document.getElementById("conn-indicator") || document.getElementById("conn-indicator").dataset.state === "open"`)
			b.WaitJS("the relative times", `Array.from(document.querySelectorAll("time[data-rel]")).every(function (e) { return / ago$/.test(e.textContent) })`)
			if f := measure(b); f.ScrollWidth > f.InnerWidth {
				t.Errorf("%s at %d px scrolls sideways: the page is %d px wide; widest element %s", s.name, width, f.ScrollWidth, f.Widest)
			}
			name := s.name + "-" + strconv.FormatInt(width, 10) + ".png"
			b.Screenshot(filepath.Join(out, name), false)
			if docs != "" {
				b.Screenshot(filepath.Join(docs, name), false)
			}
			if s.name == "requests" {
				checkRequestsTable(t, b, width, invoice, search)
			}
		}
	}
	t.Logf("screenshots in %s", out)
	if docs != "" {
		t.Logf("and in %s", docs)
	}
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions: %q", ex)
	}
}

// checkRequestsTable asserts what the Requests table keeps in view at width.
func checkRequestsTable(t *testing.T, b *browsertest.Browser, width int64, invoice, search string) {
	t.Helper()
	want := []string{"c-method", "c-url", "c-status", "c-sent", "c-set"}
	if width >= 1400 {
		want = append(want, "c-time", "c-client", "c-dur")
	}
	for _, id := range []string{invoice, search} {
		for _, c := range requestCells(b, id, want...) {
			if !c.InView {
				t.Errorf("requests at %d px, row %s: column %s not in view: %+v", width, id, c.Column, c)
			}
		}
	}
	cells := requestCells(b, search, "c-method", "c-status", "c-set")
	if cells[0].Content != "GET" || cells[1].Content != "200" || cells[2].Content == "" {
		t.Errorf("requests at %d px, row %s: method %q, status %q, Set-Cookie %q", width, search, cells[0].Content, cells[1].Content, cells[2].Content)
	}
	// The long URL: start and end on screen, the middle cut, the whole URL on hover.
	type urlFacts struct {
		Title, Shown string
		Clipped      bool
	}
	f := browsertest.Eval[urlFacts](b, `(function () {
		var a = document.querySelector('`+rowByID(invoice)+` [data-testid="request-link"]');
		var shown = Array.from(a.childNodes).filter(function (n) { return n.nodeType !== 1 || getComputedStyle(n).display !== "none"; }).map(function (n) { return n.textContent; }).join("");
		var td = a.closest("td");
		return {Title: a.title, Shown: shown, Clipped: td.scrollWidth > td.clientWidth + 1};
	})()`)
	if f.Title != longInvoice {
		t.Errorf("requests at %d px: link title %q, want the whole URL", width, f.Title)
	}
	if f.Shown == longInvoice || len(f.Shown) < 20 || f.Shown[:20] != longInvoice[:20] || f.Shown[len(f.Shown)-12:] != longInvoice[len(longInvoice)-12:] {
		t.Errorf("requests at %d px: the URL shows as %q, want its start and end with the middle cut", width, f.Shown)
	}
	if f.Clipped {
		t.Errorf("requests at %d px: the cut URL is clipped by its cell", width)
	}
}
