package lab

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/memory"
	"github.com/sessionscope/sessionscope/inspector/lab/labstore"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/pages.golden from the app's output")

// knownID is a session the page tests plant in the store, so pages that show or link
// the session id render the same bytes every time.
const knownID = "0123456789abcdefghijklmnop"

// TestPagesRender renders every page of the lab app and of the attacker's site, in the
// configurations that change them, and compares the responses with
// testdata/pages.golden byte for byte: the browser scripts, the Chromium parity test
// and trainers' bookmarks rely on these ids, links and forms. The golden file was
// first written by the app's earlier fmt.Sprintf pages; html/template renders the same
// bytes, except that a hostile return path is now percent-encoded inside its URL.
func TestPagesRender(t *testing.T) {
	store := labstore.NewMemory(memory.New(memory.Options{}))
	a := newApp(store, slog.New(slog.DiscardHandler), wallClock{})
	a.proxyPort, a.attackerPort = "7071", "7072"
	a.stylesheet = "http://127.0.0.1:7073" + stylesheetPath
	ctx := context.Background()
	plant := func() {
		if err := store.Save(ctx, "", knownID, labstore.Session{"user": labUser, "user_id": 1,
			"login_at": time.Now().UnixMilli()}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	withSID := healthyKnobs()
	withSID.SessionIDInURL = true
	hostile := `/x"><script>alert(1)</script>`
	cases := []struct {
		name        string
		knobs       Knobs
		method, url string
		form        url.Values
		rawForm     string // a body that is not a valid form
		cookie      bool
		origin      string
		attacker    bool
		planted     string // the attacker's trap id, set before the request
		scenario    string // a scenario in force (its banner), instead of knobs
		fixed       bool
	}{
		{name: "login form", knobs: healthyKnobs(), method: "GET", url: "http://localhost:7071/login"},
		{name: "login wrong password", knobs: healthyKnobs(), method: "POST", url: "http://localhost:7071/login",
			form: url.Values{"user": {labUser}, "password": {"nope<&>'\""}}},
		{name: "dashboard", knobs: healthyKnobs(), method: "GET", url: "http://localhost:7071/dashboard", cookie: true},
		{name: "dashboard with the id in links", knobs: withSID, method: "GET", url: "http://localhost:7071/dashboard", cookie: true},
		{name: "dashboard on the app host", knobs: with(func(k *Knobs) { k.LoginHost, k.AppHost = hostLogin, hostApp }),
			method: "GET", url: "http://app.lab.localhost:7071/dashboard", cookie: true},
		{name: "account", knobs: healthyKnobs(), method: "GET", url: "http://localhost:7071/account", cookie: true},
		{name: "account wrong password", knobs: healthyKnobs(), method: "POST", url: "http://localhost:7071/account", cookie: true,
			form: url.Values{"password": {"guess"}}, origin: "http://localhost:7071"},
		{name: "account confirmed", knobs: healthyKnobs(), method: "POST", url: "http://localhost:7071/account", cookie: true,
			form: url.Values{"password": {labPassword}}, origin: "http://localhost:7071"},
		{name: "reports", knobs: healthyKnobs(), method: "GET", url: "http://localhost:7071/reports", cookie: true},
		{name: "partner", knobs: healthyKnobs(), method: "GET", url: "http://127.0.0.1:7071/partner?return=" + url.QueryEscape("/dashboard?a=1&b=2")},
		{name: "partner with a hostile return", knobs: healthyKnobs(), method: "GET", url: "http://127.0.0.1:7071/partner?return=" + url.QueryEscape(hostile)},
		{name: "partner with an offsite return", knobs: healthyKnobs(), method: "GET", url: "http://127.0.0.1:7071/partner?return=" + url.QueryEscape("//evil.example/")},
		{name: "cross-site post", knobs: healthyKnobs(), method: "POST", url: "http://localhost:7071/logout", cookie: true,
			origin: "http://evil.example"},
		{name: "bad form", knobs: healthyKnobs(), method: "POST", url: "http://localhost:7071/login", rawForm: "%zz"},
		{name: "login form of a broken scenario", scenario: "cookie-path-mismatch", method: "GET", url: "http://localhost:7071/login"},
		{name: "dashboard of a fixed twin", scenario: "cookie-path-mismatch", fixed: true, method: "GET", url: "http://localhost:7071/dashboard", cookie: true},
		{name: "attacker page", method: "GET", url: "http://evil.lab.localhost:7072/trap", attacker: true},
		{name: "attacker page after planting", method: "GET", url: "http://evil.lab.localhost:7072/trap", attacker: true, planted: knownID},
	}
	var got strings.Builder
	for _, tc := range cases {
		plant()
		if d, ok := definitionOf(tc.scenario); ok {
			a.configure(d, tc.fixed)
		} else {
			a.configure(definition{broken: tc.knobs}, false)
		}
		a.trapSID = tc.planted
		body := tc.rawForm
		if tc.form != nil {
			body = tc.form.Encode()
		}
		req := httptest.NewRequest(tc.method, tc.url, strings.NewReader(body))
		req.Header.Set("User-Agent", "page-test")
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if tc.cookie {
			req.AddCookie(&http.Cookie{Name: cookieName, Value: knownID})
		}
		rec := httptest.NewRecorder()
		if tc.attacker {
			attackerSite{a: a}.ServeHTTP(rec, req)
		} else {
			(&node{name: "a", app: a}).ServeHTTP(rec, req)
		}
		res := rec.Result()
		fmt.Fprintf(&got, "== %s\n%d %s\nSet-Cookie: %s\n%s\n", tc.name, res.StatusCode, res.Header.Get("Content-Type"),
			strings.Join(res.Header.Values("Set-Cookie"), " | "), rec.Body.String())
	}
	a.background.Wait()
	const golden = "testdata/pages.golden"
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestPagesRender -update writes it)", err)
	}
	if got.String() != string(want) {
		t.Errorf("the pages changed; got:\n%s\nwant (%s):\n%s", got.String(), golden, want)
	}
}
