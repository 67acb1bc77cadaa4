package ui_test

// Real-browser tests of the session page: a payload read on demand, the links between
// a session, its requests, its flow and its JSON, and an ended session's last facts.
//
// With SESSIONSCOPE_SCREENSHOTS=<dir>, the tests also save session-read-budget.png
// (the read button) and session-ended.png into dir.

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore"
	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// startInspectorAfter starts redis-server, lets before write to it, and only then
// attaches an Inspector (as uitest.StartInspector does), so that what before wrote is
// found by the inventory rather than seen being written. It waits for the inventory.
func startInspectorAfter(t *testing.T, tcfg tracker.Config, before func(rdb *redis.Client)) *uitest.Env {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	before(rdb)
	matcher := framework.NewMatcher(framework.Builtin())
	ctx, cancel := context.WithCancel(context.Background())
	store, err := redisstore.Open(ctx, redisstore.Config{URL: srv.URL(), Matcher: matcher})
	if err != nil {
		cancel()
		t.Fatalf("open store: %v", err)
	}
	tcfg.Matcher = matcher
	in := inspector.New(store, inspector.Config{Tracker: tcfg})
	runDone := make(chan error, 1)
	go func() { runDone <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("inspector run: %v", err)
		}
		_ = store.Close()
	})
	uitest.WaitFor(t, "inventory done", func() bool {
		inv := in.Status().Last.Inventory
		return inv != nil && inv.Done
	})
	return &uitest.Env{Srv: srv, RDB: rdb, In: in, Matcher: matcher}
}

// location is the page's address without the dashboard's origin.
func location(b *browsertest.Browser, base string) string {
	return strings.TrimPrefix(browsertest.Run(b, chromedp.Location()), base)
}

// apiSession fetches /api/sessions/REF from the page, with its login cookie.
func apiSession(b *browsertest.Browser, ref string) map[string]any {
	return browsertest.EvalAsync[map[string]any](b, `fetch("/api/sessions/`+ref+`").then(function (r) { return r.json() })`)
}

// TestBrowserInventoriedSessionPayload: a session written before sessionscope started
// is found by the inventory without its payload. Opening its page reads the payload
// once and shows it decoded, the secret redacted; the API then carries it too. The
// page's links lead to the session's requests, its flow and its JSON.
func TestBrowserInventoriedSessionPayload(t *testing.T) {
	t.Parallel()
	secret := "pw-SECRET-" + sid(12)
	id := sid(26)
	ref := model.Ref(id)
	env := startInspectorAfter(t, tracker.Config{}, func(rdb *redis.Client) {
		if err := redistest.SetEx(context.Background(), rdb, "PHPREDIS_SESSION:"+id,
			phpSession("user_id", 42, "password", secret, "theme", "dark"), 1440*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	if d, err := env.In.Session(ref); err != nil || d.Payload != nil || !d.Row.Inventory {
		t.Fatalf("before the page opens: payload %v, inventory %v, err %v; want an inventoried session without payload", d.Payload, d.Row.Inventory, err)
	}
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	b.Navigate(d.base + "/sessions/" + ref)
	b.WaitReady(`[data-testid="session-detail"][data-ref="` + ref + `"]`)
	b.WaitTestID("payload-tree")
	got := readPayload(b)
	if leaf, ok := got["user_id"]; !ok || leaf.Redacted || leaf.Value != "42" {
		t.Errorf("user_id shown as %+v (present %v), want 42", leaf, ok)
	}
	if leaf, ok := got["password"]; !ok || !leaf.Redacted {
		t.Errorf("password shown as %+v (present %v), want redacted", leaf, ok)
	}
	if f := b.TextByTestID("format"); f != "php" {
		t.Errorf("format %q, want php", f)
	}
	if a := b.TextByTestID("authenticated"); a != "yes" {
		t.Errorf("authenticated %q, want yes (user_id is set)", a)
	}
	if page := b.OuterHTML(); strings.Contains(page, secret) || strings.Contains(page, id) {
		t.Error("the password or the full session id is in the page")
	}
	api := apiSession(b, ref)
	payload, ok := api["payload"].(map[string]any)
	if !ok || payload["format"] != "php" {
		t.Fatalf("/api/sessions/%s payload %v, want the payload read", ref, api["payload"])
	}
	for _, f := range payload["fields"].([]any) {
		field := f.(map[string]any)
		if field["key"] == "password" && (field["redacted"] != true || field["value"] != nil) {
			t.Errorf("API password field %v, want redacted without value", field)
		}
	}

	// The links: requests, flow and JSON of this session.
	b.Load(chromedp.Click(browsertest.TestID("session-requests")))
	b.WaitTestID("requests")
	if loc := location(b, d.base); loc != "/requests?session="+ref {
		t.Errorf("requests link led to %s", loc)
	}
	if v := browsertest.Run(b, chromedp.Value(browsertest.TestID("filter-session"))); v != ref {
		t.Errorf("the requests filter holds %q, want %s", v, ref)
	}
	b.Navigate(d.base + "/sessions/" + ref)
	b.Load(chromedp.Click(browsertest.TestID("session-flow")))
	if loc := location(b, d.base); loc != "/flow?session="+ref {
		t.Errorf("flow link led to %s", loc)
	}
	b.Navigate(d.base + "/sessions/" + ref)
	b.Load(chromedp.Click(browsertest.TestID("session-json")))
	if loc := location(b, d.base); loc != "/api/sessions/"+ref {
		t.Errorf("JSON link led to %s", loc)
	}
	if body := browsertest.Eval[string](b, `document.body.textContent`); !strings.Contains(body, `"ref":"`+ref+`"`) {
		t.Errorf("the JSON link's page does not hold the session object: %.200s", body)
	}
}

// TestBrowserPayloadReadOverBudget: with the read budget spent, the page says so and
// offers a button; pressing it reads the payload (waiting for the budget) and lands
// back on the session page, which shows it. A post from another origin is refused.
func TestBrowserPayloadReadOverBudget(t *testing.T) {
	t.Parallel()
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = sid(26)
	}
	// One read every two seconds: the page's read, right after another, is refused;
	// the button's read waits for the next one.
	env := startInspectorAfter(t, tracker.Config{ReadBudget: 0.5}, func(rdb *redis.Client) {
		for _, id := range ids {
			if err := redistest.SetEx(context.Background(), rdb, "PHPREDIS_SESSION:"+id,
				phpSession("user_id", 7, "theme", "light"), 1440*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)
	ref := ""
	// Spend the budget, then open another session at once. A machine so slow that the
	// budget refills in between gets the payload read; try the next pair then.
	for i := 0; i+1 < len(ids) && ref == ""; i += 2 {
		if _, err := env.In.ReadPayload(context.Background(), model.Ref(ids[i]), true); err != nil {
			t.Fatal(err)
		}
		next := model.Ref(ids[i+1])
		b.Navigate(d.base + "/sessions/" + next)
		b.WaitReady(`[data-testid="session-detail"][data-ref="` + next + `"]`)
		if !exists(b, "payload-tree") {
			ref = next
		}
	}
	if ref == "" {
		t.Fatal("every page read its payload: the read budget was never spent")
	}
	note := b.TextByTestID("payload-missing")
	if !strings.Contains(note, "read budget") || !strings.Contains(note, "0.5 reads/s") {
		t.Errorf("payload note %q, want it to say the read budget (0.5 reads/s) is spent", note)
	}
	if a := b.TextByTestID("authenticated"); a != "unknown" {
		t.Errorf("authenticated %q before any read, want unknown", a)
	}
	if !exists(b, "payload-read") {
		t.Fatal("no button to read the payload now")
	}
	if dir := screenshotDir(t); dir != "" {
		b.Screenshot(filepath.Join(dir, "session-read-budget.png"), false)
	}
	b.Load(chromedp.Click(browsertest.TestID("payload-read")))
	b.WaitTestID("payload-tree")
	if loc := location(b, d.base); loc != "/sessions/"+ref {
		t.Errorf("after the read the browser is at %s, want the session page (redirect after the post)", loc)
	}
	if leaf := readPayload(b)["theme"]; leaf.Value != `"light"` {
		t.Errorf("theme shown as %+v, want \"light\"", leaf)
	}
	if exists(b, "payload-read") {
		t.Error("the read button is still offered with the payload shown")
	}
	if a := b.TextByTestID("authenticated"); a != "yes" {
		t.Errorf("authenticated %q after the read, want yes (user_id is set)", a)
	}

	req, err := http.NewRequest(http.MethodPost, d.base+"/sessions/"+model.Ref(ids[len(ids)-1])+"/read", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-origin post answered %d, want 403", resp.StatusCode)
	}
}

// exists reports whether an element with data-testid=id is in the page now.
func exists(b *browsertest.Browser, id string) bool {
	return browsertest.Eval[bool](b, `!!document.querySelector('[data-testid="`+id+`"]')`)
}

// TestBrowserSessionLinks: behind the proxy, a Live row leads to the request that
// caused its event, the request page to the session it gave the browser, and that
// session's page to its requests. A session logged in and then destroyed keeps its
// facts on its page.
func TestBrowserSessionLinks(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)
	b.Navigate(d.base + "/")
	b.WaitTestID("live")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)

	app := &loopApp{t: t, env: env}
	ref := app.login() // p9-1 .. p9-3; the login POST (p9-3) creates the session
	row := `[data-testid="feed-row"][data-kind="created"][data-ref="` + ref + `"]`
	b.WaitReady(row + ` [data-testid="feed-exchange"]`)
	link := browsertest.Run(b, chromedp.Attributes(chromedp.CSS(row+` [data-testid="feed-exchange"]`)))
	if link["href"] != "/requests/p9-3" {
		t.Fatalf("the created row links %q, want /requests/p9-3 (the login POST)", link["href"])
	}
	b.Load(chromedp.Click(chromedp.CSS(row + ` [data-testid="feed-exchange"]`)))
	b.WaitReady(`[data-testid="request-detail"][data-id="p9-3"]`)
	given := browsertest.Run(b, chromedp.Attributes(browsertest.TestID("request-session-given")))
	if given["href"] != "/sessions/"+ref {
		t.Fatalf("the login POST's page links session %q, want /sessions/%s", given["href"], ref)
	}
	b.Load(chromedp.Click(browsertest.TestID("request-session-given")))
	b.WaitReady(`[data-testid="session-detail"][data-ref="` + ref + `"]`)
	b.Load(chromedp.Click(browsertest.TestID("session-requests")))
	b.WaitReady(rowByID("p9-3"))

	// The app destroys the logged-in session: its page keeps what was known.
	keys, err := env.RDB.Keys(context.Background(), "PHPREDIS_SESSION:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("the app's session keys: %v, %v; want the one login", keys, err)
	}
	env.Do(t, "DEL", keys[0])
	env.WaitEvent(t, model.KindDestroyed, ref)
	b.Navigate(d.base + "/sessions/" + ref)
	b.WaitTestID("session-ended")
	if a := b.TextByTestID("authenticated"); a != "yes" {
		t.Errorf("authenticated %q after the destroy, want yes (until destroyed)", a)
	}
	if u := b.TextByTestID("auth-until"); !strings.Contains(u, "destroyed") {
		t.Errorf("auth-until %q, want it to say until destroyed", u)
	}
	if dir := screenshotDir(t); dir != "" {
		b.Screenshot(filepath.Join(dir, "session-ended.png"), false)
	}
	facts := browsertest.Eval[string](b, `document.querySelector(".facts").textContent`)
	for _, dash := range []string{"born —", "last activity —", "size —"} {
		if strings.Contains(strings.Join(strings.Fields(facts), " "), dash) {
			t.Errorf("the ended session's facts show %q: %s", dash, strings.Join(strings.Fields(facts), " "))
		}
	}
	// Its JSON answers as its page does: the last facts, and how it ended.
	if api := apiSession(b, ref); api["ref"] != ref || api["authenticated"] != true || api["ended"] == nil {
		t.Errorf("/api/sessions/%s of the ended session: %v; want its last facts and how it ended", ref, api)
	} else if ended, _ := api["ended"].(map[string]any); ended["kind"] != string(model.KindDestroyed) {
		t.Errorf("/api/sessions/%s ended %v; want destroyed", ref, ended)
	}
	if !exists(b, "session-json") {
		t.Error("the ended session's page does not link its JSON")
	}
	if u, _ := url.Parse(browsertest.Run(b, chromedp.Location())); u.Path != "/sessions/"+ref {
		t.Errorf("at %s", u)
	}
}
