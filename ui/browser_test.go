package ui_test

// Real-browser tests of the dashboard: a real redis-server, a real Inspector, the real
// ui.Server on a free loopback port, and headless Chromium (inspector/cookies/browsertest).
// Waits have a hang guard only; nothing asserts on timing.
//
// With SESSIONSCOPE_SCREENSHOTS=<dir>, the Live and the session-detail tests also save
// the README screenshots (live.png, session-detail.png) into dir.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker"
	"github.com/sessionscope/sessionscope/ui"
	"github.com/sessionscope/sessionscope/ui/uitest"
)

// ScreenshotsVar names the directory the README screenshots are written to.
const screenshotsVar = "SESSIONSCOPE_SCREENSHOTS"

// dashboard is the real ui.Server over a real Inspector, on a free loopback port.
type dashboard struct {
	env  *uitest.Env
	srv  *ui.Server
	port string
	base string // http://127.0.0.1:PORT
}

func startDashboard(t *testing.T, env *uitest.Env, edit func(*ui.Config)) *dashboard {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ui.DefaultConfig()
	cfg.Listen = ln.Addr().String()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if edit != nil {
		edit(&cfg)
	}
	srv, err := ui.New(cfg, env.In)
	if err != nil {
		_ = ln.Close()
		t.Fatalf("ui.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	uitest.WaitFor(t, "the hub to run", srv.Hub().Running)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return &dashboard{env: env, srv: srv, port: port, base: "http://" + ln.Addr().String()}
}

// sid returns a random session id of n characters from PHP's default alphabet.
func sid(n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// phpSession encodes fields in PHP's default session format (name|serialized...).
// Values are strings, ints or bools; names must not contain '|'.
func phpSession(fields ...any) string {
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString(fields[i].(string))
		b.WriteByte('|')
		switch v := fields[i+1].(type) {
		case string:
			fmt.Fprintf(&b, "s:%d:\"%s\";", len(v), v)
		case int:
			fmt.Fprintf(&b, "i:%d;", v)
		case bool:
			if v {
				b.WriteString("b:1;")
			} else {
				b.WriteString("b:0;")
			}
		case []string:
			fmt.Fprintf(&b, "a:%d:{", len(v))
			for j, s := range v {
				fmt.Fprintf(&b, "i:%d;s:%d:\"%s\";", j, len(s), s)
			}
			b.WriteString("}")
		default:
			panic(fmt.Sprintf("phpSession: unsupported %T", v))
		}
	}
	return b.String()
}

// expressSession is an express-session JSON payload with its cookie block.
func expressSession(extra map[string]any) string {
	m := map[string]any{"cookie": map[string]any{
		"originalMaxAge": 86400000, "expires": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339Nano),
		"secure": false, "httpOnly": true, "path": "/", "sameSite": "lax"}}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func refOfPHP(id string) string { return model.Ref(id) }

func rowSel(ref string) string {
	return `[data-testid="feed-row"][data-ref="` + ref + `"]`
}

// scenario is what populate created, for the screenshots and their assertions.
type scenario struct {
	loginRef   string // the phpredis session after login (regenerated, updated)
	anonRef    string // its predecessor
	fixedRef   string // a login that kept its id: the fixation finding
	expressRef []string
	refs       []string // every ref that has a feed row
}

// populate plays a realistic few seconds of a developer's app against Redis: express
// visitors, a phpredis login with session_regenerate_id(true), a login that forgot to
// regenerate (fixation), a logout, a short-lived session expiring.
func populate(t *testing.T, env *uitest.Env) scenario {
	t.Helper()
	ctx := context.Background()
	var sc scenario
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("redis: %v", err)
		}
	}
	// A session that the store expires while the rest plays out.
	shortID := sid(32)
	must(env.RDB.Set(ctx, "sess:"+shortID, expressSession(map[string]any{"views": 1}), 1500*time.Millisecond).Err())
	sc.refs = append(sc.refs, model.Ref(shortID))

	// Express visitors browsing.
	for i, page := range []string{"/pricing", "/docs/getting-started", "/blog/session-fixation"} {
		id := sid(32)
		ref := model.Ref(id)
		sc.expressRef = append(sc.expressRef, ref)
		sc.refs = append(sc.refs, ref)
		must(env.RDB.Set(ctx, "sess:"+id, expressSession(map[string]any{"views": 1, "returnTo": page}), 24*time.Hour).Err())
		env.WaitEvent(t, model.KindCreated, ref)
		if i < 2 {
			must(env.RDB.Set(ctx, "sess:"+id, expressSession(map[string]any{"views": 2 + i, "returnTo": page, "flash": []string{}}), 24*time.Hour).Err())
			env.WaitEvent(t, model.KindUpdated, ref)
		}
		if i == 0 {
			must(env.RDB.Expire(ctx, "sess:"+id, 24*time.Hour).Err()) // rolling: touch
			env.WaitEvent(t, model.KindTouched, ref)
		}
	}

	// phpredis login flow: anonymous session with a CSRF token, then the login
	// handler calls session_regenerate_id(true): DEL old, SETEX new at write.
	oldID, newID := sid(26), sid(26)
	csrf := sid(40)
	sc.anonRef, sc.loginRef = refOfPHP(oldID), refOfPHP(newID)
	sc.refs = append(sc.refs, sc.anonRef, sc.loginRef)
	must(redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+oldID, phpSession("csrf_token", csrf, "locale", "en_GB", "cart", []string{}), 1440*time.Second))
	env.WaitEvent(t, model.KindCreated, sc.anonRef)
	must(env.RDB.Del(ctx, "PHPREDIS_SESSION:"+oldID).Err())
	must(redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+newID, phpSession("csrf_token", sid(40), "locale", "en_GB",
		"cart", []string{}, "user_id", 42, "username", "alice", "roles", []string{"customer", "beta"},
		"login_at", int(time.Now().Unix()), "mfa_passed", true), 1440*time.Second))
	env.WaitEvent(t, model.KindRegenerated, sc.loginRef)
	must(redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+newID, phpSession("csrf_token", sid(40), "locale", "en_GB",
		"cart", []string{"sku-1042", "sku-2210"}, "user_id", 42, "username", "alice", "roles", []string{"customer", "beta"},
		"login_at", int(time.Now().Unix()), "mfa_passed", true), 1440*time.Second))
	env.WaitEvent(t, model.KindUpdated, sc.loginRef)
	must(env.RDB.Expire(ctx, "PHPREDIS_SESSION:"+newID, 1440*time.Second).Err()) // lazy write
	env.WaitEvent(t, model.KindTouched, sc.loginRef)

	// A second app's login that keeps the session id: fixation.
	fixID := sid(26)
	sc.fixedRef = refOfPHP(fixID)
	sc.refs = append(sc.refs, sc.fixedRef)
	must(redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+fixID, phpSession("csrf_token", sid(40), "return_to", "/account"), 1440*time.Second))
	env.WaitEvent(t, model.KindCreated, sc.fixedRef)
	must(redistest.SetEx(ctx, env.RDB, "PHPREDIS_SESSION:"+fixID, phpSession("csrf_token", sid(40), "return_to", "/account", "user_id", 7), 1440*time.Second))
	env.WaitEvent(t, model.KindUpdated, sc.fixedRef)

	// A logout that destroys its session.
	logoutID := sid(32)
	sc.refs = append(sc.refs, model.Ref(logoutID))
	must(env.RDB.Set(ctx, "sess:"+logoutID, expressSession(map[string]any{"views": 5, "passport": map[string]any{"user": "bob"}}), 24*time.Hour).Err())
	env.WaitEvent(t, model.KindCreated, model.Ref(logoutID))
	must(env.RDB.Del(ctx, "sess:"+logoutID).Err())
	env.WaitEvent(t, model.KindDestroyed, model.Ref(logoutID))

	uitest.WaitFor(t, "the fixation finding", func() bool {
		for _, f := range env.In.Findings() {
			if f.Rule == "fixation" {
				return true
			}
		}
		return false
	})
	env.WaitEvent(t, model.KindExpired, model.Ref(shortID))
	return sc
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv(screenshotsVar)
	if dir == "" {
		return ""
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestBrowserLiveFeed: a session written to Redis appears in the Live feed of an open
// page, pushed over the websocket, without a reload.
func TestBrowserLiveFeed(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	if resp := b.Navigate(d.base + "/"); resp.Status != http.StatusOK {
		t.Fatalf("GET / = %d", resp.Status)
	}
	b.WaitTestID("live")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="feed-row"]').length`); n != 0 {
		t.Fatalf("%d feed rows before any session exists", n)
	}
	// A marker that a reload would wipe out.
	browsertest.Eval[int](b, `window.__sameDocument = 1`)

	id := sid(26)
	ref := model.Ref(id)
	if err := redistest.SetEx(context.Background(), env.RDB, "PHPREDIS_SESSION:"+id,
		phpSession("csrf", sid(40), "user_id", 42), 1440*time.Second); err != nil {
		t.Fatal(err)
	}
	b.WaitReady(rowSel(ref))
	row := browsertest.Run(b, chromedp.Attributes(chromedp.CSS(rowSel(ref))))
	if row["data-kind"] != "created" || row["data-fw"] != "php" {
		t.Errorf("feed row attributes %v, want kind created, framework php", row)
	}
	link := browsertest.Run(b, chromedp.Attributes(chromedp.CSS(rowSel(ref)+" a")))
	if link["href"] != "/sessions/"+ref {
		t.Errorf("row link %q, want /sessions/%s", link["href"], ref)
	}
	shown := browsertest.Run(b, chromedp.TextContent(chromedp.CSS(rowSel(ref)+" a")))
	if want := model.Mask(id); shown != want || strings.Contains(b.OuterHTML(), id) {
		t.Errorf("row shows id %q, want the masked %q and never the full id", shown, want)
	}
	if browsertest.Eval[int](b, `window.__sameDocument || 0`) != 1 {
		t.Fatal("the page reloaded: the row must arrive over the websocket")
	}
	b.WaitJS("the live counter to count the session", `Number(document.getElementById("counter-live").textContent) >= 1`)
	if !browsertest.Eval[bool](b, `document.getElementById("empty-state").hidden`) {
		t.Error("the empty state is still shown with a row in the feed")
	}

	// The rest of a realistic session history streams in too.
	sc := populate(t, env)
	for _, r := range sc.refs {
		b.WaitReady(rowSel(r))
	}
	b.WaitReady(`[data-testid="feed-row"][data-kind="regenerated"][data-ref="` + sc.loginRef + `"]`)
	b.WaitReady(`[data-testid="feed-row"][data-kind="expired"]`)
	b.WaitJS("the findings badge", `document.getElementById("findings-badge").textContent === "1"`)
	if browsertest.Eval[int](b, `window.__sameDocument || 0`) != 1 {
		t.Fatal("the page reloaded while events streamed in")
	}
	if dir := screenshotDir(t); dir != "" {
		// Let the relative times and the sparkline settle on their next tick.
		b.WaitJS("the relative times", `Array.from(document.querySelectorAll("time[data-rel]")).every(function (e) { return / ago$/.test(e.textContent) })`)
		b.Screenshot(filepath.Join(dir, "live.png"), false)
		t.Logf("saved %s", filepath.Join(dir, "live.png"))
	}
}

// payloadView reads the detail page's payload tree: key -> {value text, redacted}.
type payloadLeaf struct {
	Value    string `json:"value"`
	Redacted bool   `json:"redacted"`
}

func readPayload(b *browsertest.Browser) map[string]payloadLeaf {
	return browsertest.Eval[map[string]payloadLeaf](b, `(function () {
		var out = {};
		document.querySelectorAll('[data-testid="payload-tree"] .leaf').forEach(function (leaf) {
			var k = leaf.querySelector('[data-testid="payload-key"]');
			var v = leaf.querySelector('[data-testid="payload-value"]');
			if (!k || !v) return;
			out[k.textContent] = {value: v.textContent, redacted: !!v.querySelector('[data-testid="redacted"]')};
		});
		return out;
	})()`)
}

// TestBrowserSessionDetail: the detail page, reached from the Sessions screen, shows the
// decoded payload with sensitive values redacted; the secrets never reach the page.
func TestBrowserSessionDetail(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)
	b.SetViewport(browsertest.ViewportWidth, browsertest.ViewportHeight)

	secrets := map[string]string{
		"password": "pw-SECRET-" + sid(12),
		"csrf":     "csrf-SECRET-" + sid(12),
		"api_key":  "key-SECRET-" + sid(12),
	}
	id := sid(26)
	ref := model.Ref(id)
	env.Do(t, "SETEX", "PHPREDIS_SESSION:"+id, "1440", phpSession("user_id", 42, "password", secrets["password"],
		"csrf", secrets["csrf"], "api_key", secrets["api_key"], "theme", "dark"))
	env.WaitEvent(t, model.KindCreated, ref)

	b.Navigate(d.base + "/sessions")
	b.WaitTestID("sessions")
	b.Do(chromedp.SendKeys(chromedp.CSS(`[data-testid="search"]`), "ref:"+ref[:8]))
	b.Load(chromedp.Submit(chromedp.CSS(`[data-testid="search"]`)))
	b.WaitReady(`[data-testid="session-row"][data-ref="` + ref + `"]`)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="session-row"]').length`); n != 1 {
		t.Errorf("%d rows match ref:%s, want 1", n, ref[:8])
	}
	b.Load(chromedp.Click(chromedp.CSS(`[data-testid="session-row"][data-ref="` + ref + `"] [data-testid="session-link"]`)))
	b.WaitReady(`[data-testid="session-detail"][data-ref="` + ref + `"]`)
	if loc := browsertest.Run(b, chromedp.Location()); loc != d.base+"/sessions/"+ref {
		t.Errorf("detail page at %s, want %s/sessions/%s", loc, d.base, ref)
	}
	if fw := b.TextByTestID("framework"); fw != "php" {
		t.Errorf("framework %q, want php", fw)
	}
	if f := b.TextByTestID("format"); f != "php" {
		t.Errorf("format %q, want php", f)
	}
	if ttl := b.TextByTestID("ttl"); !strings.HasPrefix(ttl, "23m") && !strings.HasPrefix(ttl, "24m") {
		t.Errorf("ttl %q, want about 24 minutes", ttl)
	}
	got := readPayload(b)
	if leaf, ok := got["user_id"]; !ok || leaf.Redacted || leaf.Value != "42" {
		t.Errorf("user_id shown as %+v (present %v), want the visible value 42", leaf, ok)
	}
	if leaf := got["theme"]; leaf.Redacted || leaf.Value != `"dark"` && leaf.Value != "dark" {
		t.Errorf("theme shown as %+v, want dark", leaf)
	}
	for _, k := range []string{"password", "csrf", "api_key"} {
		if leaf, ok := got[k]; !ok || !leaf.Redacted {
			t.Errorf("%s shown as %+v (present %v), want redacted", k, leaf, ok)
		}
	}
	page := b.OuterHTML()
	for k, v := range secrets {
		if strings.Contains(page, v) {
			t.Errorf("the value of %s (%s) is in the page", k, v)
		}
	}
	if strings.Contains(page, id) {
		t.Error("the full session id is in the page")
	}
	b.WaitReady(`[data-testid="timeline"] .tl-item[data-kind="created"]`)

	if dir := screenshotDir(t); dir != "" {
		sc := populate(t, env)
		b.Navigate(d.base + "/sessions/" + sc.loginRef)
		b.WaitReady(`[data-testid="session-detail"][data-ref="` + sc.loginRef + `"]`)
		if from := b.TextByTestID("lineage-from"); from != sc.anonRef {
			t.Errorf("lineage-from %q, want %s", from, sc.anonRef)
		}
		if leaf := readPayload(b)["csrf_token"]; !leaf.Redacted {
			t.Errorf("csrf_token shown as %+v, want redacted", leaf)
		}
		b.WaitReady(`[data-testid="timeline"] .tl-item[data-kind="touched"]`)
		b.WaitJS("the relative times", `Array.from(document.querySelectorAll("time[data-rel]")).every(function (e) { return / ago$/.test(e.textContent) })`)
		b.Screenshot(filepath.Join(dir, "session-detail.png"), false)
		t.Logf("saved %s", filepath.Join(dir, "session-detail.png"))
	}
}

// Hostile strings for payload keys, values and session ids. Each would set
// window.__xss (and open a dialog) if the page ever ran it.
const (
	xssScript = `<script>window.__xss=1;alert(1)</script>`
	xssImg    = `<img src=x onerror="window.__xss=2;alert(2)">`
	xssJSURL  = `javascript:window.__xss=3;alert(3)`
	xssAttr   = `"><svg onload="window.__xss=4;alert(4)">`
	xssIDImg  = `<img src=x onerror=window.__xss=5;alert(5)>`
	xssIDSvg  = `"'><svg/onload=window.__xss=6;alert(6)>`
)

// assertNoXSS checks the page for executed or injected markup: no dialog, no
// window.__xss, no event-handler attributes, no javascript: URLs, no script but the
// dashboard's own, and no element types the dashboard never renders.
func assertNoXSS(t *testing.T, b *browsertest.Browser, where string) {
	t.Helper()
	if ds := b.Dialogs(); len(ds) > 0 {
		t.Errorf("%s: JavaScript dialogs opened: %+v", where, ds)
	}
	if v := browsertest.Eval[string](b, `typeof window.__xss`); v != "undefined" {
		t.Errorf("%s: window.__xss is %s: a payload ran", where, browsertest.Eval[string](b, `String(window.__xss)`))
	}
	found := browsertest.Eval[[]string](b, `(function () {
		var out = [];
		document.querySelectorAll("*").forEach(function (e) {
			for (var i = 0; i < e.attributes.length; i++) {
				var a = e.attributes[i];
				if (/^on/i.test(a.name)) out.push(e.tagName + " has " + a.name);
				if (/^(href|src|action|formaction|xlink:href|data)$/i.test(a.name) && /^\s*javascript:/i.test(a.value))
					out.push(e.tagName + " " + a.name + "=" + a.value);
			}
		});
		document.querySelectorAll("script").forEach(function (s) {
			if (!s.src || new URL(s.src).origin !== location.origin || !/^\/assets\/(app|vendor\/htmx-[0-9.]+\.min|vendor\/htmx-ext-ws-[0-9.]+\.min)\.[0-9a-f]{8}\.js$/.test(new URL(s.src).pathname))
				out.push("script " + s.outerHTML.slice(0, 100));
		});
		document.querySelectorAll("img, iframe, object, embed, svg:not(.timeline):not(#sparkline):not(.flow)").forEach(function (e) {
			out.push("element " + e.outerHTML.slice(0, 100));
		});
		return out;
	})()`)
	if len(found) > 0 {
		t.Errorf("%s: injected markup:\n  %s", where, strings.Join(found, "\n  "))
	}
}

// TestBrowserXSS: hostile session ids, payload keys and payload values are shown as
// text on Live, Sessions and the detail page, and never run.
func TestBrowserXSS(t *testing.T) {
	t.Parallel()
	// Reveal ids, so the hostile ids reach the page whole.
	env := uitest.StartInspector(t, uitest.Options{Tracker: tracker.Config{RevealIDs: true}})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)

	b.Navigate(d.base + "/")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)

	phpKey := "PHPREDIS_SESSION:" + xssIDImg
	expressKey := "sess:" + xssIDSvg
	phpRef, expressRef := uitest.RefOfKey(phpKey), uitest.RefOfKey(expressKey) // panics unless session keys
	env.Do(t, "SETEX", phpKey, "1440", phpSession(
		xssScript, xssImg,
		xssImg, xssScript,
		"next", xssJSURL,
		"title", xssAttr,
		xssJSURL, "user",
	))
	env.Do(t, "SET", expressKey, expressSession(map[string]any{
		"returnTo": xssJSURL, xssImg: xssAttr, "html": xssScript, "user": map[string]any{xssAttr: xssImg},
	}), "EX", "3600")

	// Live: the rows stream in over the websocket.
	b.WaitReady(rowSel(phpRef))
	b.WaitReady(rowSel(expressRef))
	ids := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid="feed-row"] .c-id')).map(function (e) { return e.textContent })`)
	if !contains(ids, xssIDImg) || !contains(ids, xssIDSvg) {
		t.Errorf("Live shows ids %q, want the hostile ids as text", ids)
	}
	assertNoXSS(t, b, "live (pushed rows)")

	// Live again, rendered by the server this time.
	b.Navigate(d.base + "/")
	b.WaitReady(rowSel(phpRef))
	b.WaitReady(rowSel(expressRef))
	assertNoXSS(t, b, "live (server-rendered rows)")

	// Sessions: search for each by its hostile id, typed into the search box.
	for _, tc := range []struct{ query, ref string }{{"<img", phpRef}, {`"'><svg`, expressRef}} {
		b.Navigate(d.base + "/sessions")
		b.Do(chromedp.SendKeys(chromedp.CSS(`[data-testid="search"]`), tc.query))
		b.Load(chromedp.Submit(chromedp.CSS(`[data-testid="search"]`)))
		if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="session-row"]').length`); n != 1 {
			t.Errorf("search %q: %d rows, want 1", tc.query, n)
		}
		b.WaitReady(`[data-testid="session-row"][data-ref="` + tc.ref + `"]`)
		if v := browsertest.Run(b, chromedp.Value(chromedp.CSS(`[data-testid="search"]`))); v != tc.query {
			t.Errorf("search box holds %q after the search, want %q", v, tc.query)
		}
		assertNoXSS(t, b, "sessions search "+tc.query)
	}
	b.Navigate(d.base + "/sessions")
	b.WaitReady(`[data-testid="session-row"][data-ref="` + phpRef + `"]`)
	b.WaitReady(`[data-testid="session-row"][data-ref="` + expressRef + `"]`)
	assertNoXSS(t, b, "sessions")

	// Detail pages: keys and values as text.
	for _, tc := range []struct {
		ref, id string
		keys    []string
		values  []string
	}{
		{phpRef, xssIDImg, []string{xssScript, xssImg, xssJSURL}, []string{xssImg, xssScript, xssJSURL, xssAttr}},
		{expressRef, xssIDSvg, []string{xssImg, xssAttr}, []string{xssJSURL, xssAttr, xssScript, xssImg}},
	} {
		b.Navigate(d.base + "/sessions/" + tc.ref)
		b.WaitReady(`[data-testid="session-detail"][data-ref="` + tc.ref + `"]`)
		b.WaitTestID("payload-tree")
		keys := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid="payload-key"]')).map(function (e) { return e.textContent })`)
		values := browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll('[data-testid="payload-value"]')).map(function (e) { return e.textContent })`)
		for _, k := range tc.keys {
			if !contains(keys, k) {
				t.Errorf("detail %s: key %q not shown as text; keys %q", tc.ref, k, keys)
			}
		}
		for _, v := range tc.values {
			// Strings are shown quoted, with Go escapes.
			if !containsSub(values, v) && !contains(values, strconv.Quote(v)) {
				t.Errorf("detail %s: value %q not shown as text; values %q", tc.ref, v, values)
			}
		}
		if h := browsertest.Run(b, chromedp.TextContent(chromedp.CSS(`[data-testid="session-detail"] h1`))); !strings.Contains(h, tc.id) {
			t.Errorf("detail %s: heading %q does not show the id %q as text", tc.ref, h, tc.id)
		}
		assertNoXSS(t, b, "detail "+tc.ref)
	}
	if len(b.Exceptions()) > 0 {
		t.Errorf("uncaught exceptions: %q", b.Exceptions())
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func containsSub(list []string, s string) bool {
	for _, v := range list {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// TestBrowserWebsocketOrigin: a page on another origin cannot open the live socket;
// the dashboard's own page can.
func TestBrowserWebsocketOrigin(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	wsURL := "ws://127.0.0.1:" + d.port + "/ws"
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>elsewhere</title><p data-testid="foreign">another site</p>
<script>
window.__ws = {opened: false, errored: false, closed: false, code: 0, messages: 0};
var ws = new WebSocket(%s);
ws.onopen = function () { window.__ws.opened = true; };
ws.onmessage = function () { window.__ws.messages++; };
ws.onerror = function () { window.__ws.errored = true; };
ws.onclose = function (ev) { window.__ws.closed = true; window.__ws.code = ev.code; };
</script>`, browsertest.Quote(wsURL))
	}))
	t.Cleanup(foreign.Close)
	_, fport, _ := net.SplitHostPort(strings.TrimPrefix(foreign.URL, "http://"))
	foreignURL := "http://localhost:" + fport + "/" // another origin than http://127.0.0.1:PORT

	b := browsertest.New(t)
	b.Navigate(foreignURL)
	b.WaitTestID("foreign")
	b.WaitJS("the foreign socket to close", `window.__ws.closed`)
	type wsState struct {
		Opened, Errored, Closed bool
		Code                    int
		Messages                int
	}
	st := browsertest.Eval[wsState](b, `window.__ws`)
	if st.Opened || st.Messages > 0 {
		t.Errorf("a page on %s opened the dashboard's websocket: %+v", foreignURL, st)
	}
	if !st.Errored || st.Code != 1006 {
		t.Errorf("foreign socket state %+v, want an error and close code 1006 (handshake refused)", st)
	}
	if d.srv.Hub().Clients() != 0 {
		t.Errorf("%d hub clients after a refused handshake", d.srv.Hub().Clients())
	}

	// Same origin: the dashboard page itself connects, and so does a socket it opens.
	b.Navigate(d.base + "/")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	got := browsertest.EvalAsync[string](b, `new Promise(function (resolve) {
		var ws = new WebSocket("ws://" + location.host + "/ws");
		ws.onopen = function () { resolve("open"); ws.close(); };
		ws.onclose = function (ev) { resolve("closed " + ev.code); };
	})`)
	if got != "open" {
		t.Errorf("same-origin socket: %s, want open", got)
	}
	if len(b.Dialogs()) > 0 {
		t.Errorf("dialogs: %+v", b.Dialogs())
	}
}

// TestBrowserWrongHost: a request naming another host (as after DNS rebinding) gets
// 421 and no dashboard; the loopback name gets the dashboard.
func TestBrowserWrongHost(t *testing.T) {
	t.Parallel()
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, nil)
	b := browsertest.New(t)

	// Chromium resolves every *.localhost name to loopback, so this reaches the
	// dashboard with Host: evil.localhost:PORT.
	evil := "http://evil.localhost:" + d.port + "/"
	resp := b.Navigate(evil)
	if resp.Status != http.StatusMisdirectedRequest {
		t.Errorf("GET %s = %d, want 421", evil, resp.Status)
	}
	var seen bool
	for _, r := range b.Responses() {
		if r.URL == evil {
			seen = true
			if r.Status != http.StatusMisdirectedRequest {
				t.Errorf("network event: %s answered %d, want 421", evil, r.Status)
			}
		}
	}
	if !seen {
		t.Errorf("no document response recorded for %s: %+v", evil, b.Responses())
	}
	body := browsertest.Eval[string](b, `document.body ? document.body.innerText : ""`)
	if !strings.Contains(body, "unexpected Host") {
		t.Errorf("421 body %q does not explain the rejection", body)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("[data-testid]").length + document.querySelectorAll("script").length`); n != 0 {
		t.Errorf("the 421 page rendered %d dashboard elements", n)
	}

	// Control: the same server under a loopback name serves the dashboard.
	good := "http://localhost:" + d.port + "/"
	if resp := b.Navigate(good); resp.Status != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200", good, resp.Status)
	}
	b.WaitTestID("live")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
}

// moduleRoot is the directory of go.mod, found from this file's location.
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	root := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	return root
}

func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// fetchStatus fetches path from the page, with the page's cookies, and returns the
// HTTP status.
func fetchStatus(b *browsertest.Browser, path string) int {
	return browsertest.EvalAsync[int](b, `fetch(`+browsertest.Quote(path)+`, {credentials: "same-origin"}).then(function (r) { return r.status })`)
}

// TestBrowserTokenLogin: with a token, the API answers 401 and pages send the browser
// to the login form; the right token logs in (a wrong one does not), and then the
// Live screen streams and the API answers 200.
func TestBrowserTokenLogin(t *testing.T) {
	t.Parallel()
	const token = "correct-horse-battery-staple"
	env := uitest.StartInspector(t, uitest.Options{})
	d := startDashboard(t, env, func(c *ui.Config) { c.Token = token })
	b := browsertest.New(t)

	if resp := b.Navigate(d.base + "/api/status"); resp.Status != http.StatusUnauthorized {
		t.Errorf("GET /api/status without the token = %d, want 401", resp.Status)
	}
	if got := fetchStatus(b, "/api/status"); got != http.StatusUnauthorized {
		t.Errorf("fetch /api/status without the token = %d, want 401", got)
	}

	b.Navigate(d.base + "/")
	b.WaitTestID("login-form")
	loc, err := url.Parse(browsertest.Run(b, chromedp.Location()))
	if err != nil || loc.Path != "/login" || loc.Query().Get("next") != "/" {
		t.Errorf("/ without the token went to %v, want /login?next=/", loc)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[data-testid="live"], [data-testid="feed-row"]').length`); n != 0 {
		t.Error("the login page shows dashboard content")
	}

	// A wrong token is refused.
	b.Do(chromedp.SendKeys(browsertest.TestID("token-input"), "not-the-token"))
	if resp := b.Load(chromedp.Submit(browsertest.TestID("login-form"))); resp.Status != http.StatusUnauthorized {
		t.Errorf("wrong token: login answered %d, want 401", resp.Status)
	}
	b.WaitTestID("login-error")
	b.WaitTestID("login-form")
	if got := fetchStatus(b, "/api/status"); got != http.StatusUnauthorized {
		t.Errorf("after a wrong token, /api/status = %d, want 401", got)
	}

	// The right token reaches Live, which connects its websocket.
	b.Do(chromedp.SendKeys(browsertest.TestID("token-input"), token))
	if resp := b.Load(chromedp.Submit(browsertest.TestID("login-form"))); resp.Status != http.StatusOK {
		t.Errorf("right token: the login ended on status %d, want 200", resp.Status)
	}
	b.WaitTestID("live")
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	if loc := browsertest.Run(b, chromedp.Location()); loc != d.base+"/" {
		t.Errorf("after login at %s, want %s/", loc, d.base)
	}
	if got := fetchStatus(b, "/api/status"); got != http.StatusOK {
		t.Errorf("after login, /api/status = %d, want 200", got)
	}
	if resp := b.Navigate(d.base + "/api/status"); resp.Status != http.StatusOK {
		t.Errorf("after login, GET /api/status = %d, want 200", resp.Status)
	}
	cookies := b.Cookies(d.base)
	cookieName := ui.AuthCookieName(d.port, false)
	if c, ok := cookies[cookieName]; !ok || strings.Contains(c, token) {
		t.Errorf("login cookie %q (present %v): want a cookie that does not hold the token", c, ok)
	}
	b.Navigate(d.base + "/")
	if js := browsertest.Eval[string](b, `document.cookie`); strings.Contains(js, cookieName) {
		t.Errorf("the login cookie is readable from JavaScript: %q", js)
	}

	// A session written now streams to the logged-in page.
	b.WaitReady(`[data-testid="conn-indicator"][data-state="open"]`)
	id := sid(26)
	env.Do(t, "SETEX", "PHPREDIS_SESSION:"+id, "1440", phpSession("user_id", 1))
	b.WaitReady(rowSel(model.Ref(id)))
}
