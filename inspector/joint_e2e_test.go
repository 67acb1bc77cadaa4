package inspector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// The joint rules read the store and the HTTP side together. These tests put the real
// express-session + connect-redis app behind sessionscope's proxy, watch its real
// Redis, and drive it with plain HTTP clients (the proxy records what they send).

// proxyFor starts a capturing proxy in front of upstreams, publishing to h's inspector.
func proxyFor(t *testing.T, h *harness, sticky bool, upstreams ...string) string {
	t.Helper()
	var us []*url.URL
	for _, u := range upstreams {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, parsed)
	}
	p, err := traffic.NewProxy(traffic.ProxyConfig{Upstreams: us, Sticky: sticky, Sink: h.in.PublishExchange, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

// browser is an HTTP client with its own cookie jar, User-Agent and source address.
type browser struct {
	t    *testing.T
	base string
	ua   string
	c    *http.Client
}

func newBrowser(t *testing.T, base, ua, sourceIP string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{}
	if sourceIP != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sourceIP)}
	}
	tr := &http.Transport{DialContext: dialer.DialContext, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, base: base, ua: ua, c: &http.Client{Jar: jar, Transport: tr}}
}

// get follows redirects as a browser does and returns the final status.
func (b *browser) get(path string) int {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("User-Agent", b.ua)
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body) // as a browser does
	res.Body.Close()
	return res.StatusCode
}

// stealFrom copies another browser's cookies for the proxy's address into this one.
func (b *browser) stealFrom(victim *browser) {
	u, _ := url.Parse(b.base)
	b.c.Jar.SetCookies(u, victim.c.Jar.Cookies(u))
}

// stop ends the inspector's run: pending events are emitted and the rules' deferred
// decisions made, so the absence of a finding afterwards means something.
func (h *harness) findingsAfterStop() []model.Finding {
	h.Stop()
	return h.in.Findings()
}

func rules(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

// jointRuleIDs are the rules that read the store and the HTTP side together; the
// HTTP-only rules (cookie-flags on the test app's cookie) are not these tests' business.
var jointRuleIDs = []string{"stale-read", "cookie-missing", "hijack-suspect", "hijack-ignored", "logout-not-destroyed",
	"session-not-shared", "cookie-outlives-session", "session-outlives-cookie", "login-loop"}

func hasAnyRule(fs []model.Finding, ids ...string) bool {
	for _, id := range ids {
		if hasRule(fs, id) {
			return true
		}
	}
	return false
}

func hasRule(fs []model.Finding, rule string) bool {
	for _, f := range fs {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

const (
	uaVictim   = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 victim"
	uaAttacker = "curl/8.5.0 attacker"
)

func TestJointRulesRealNode(t *testing.T) {
	t.Run("stale-read: the login redirects before its write lands", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNodeEnv(t, h.srv.URL(), "LATE_WRITE_MS=400")
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "")
		b.get("/")
		if got := b.get("/login-late"); got != 200 {
			t.Fatalf("login-late ended with %d, want 200 at / after the bounce", got)
		}
		f := h.waitFinding("stale-read")
		if len(f.Exchanges) < 2 || !strings.Contains(f.Detail, "landed in the store") || !strings.Contains(f.Fix, "req.session.save") {
			t.Fatalf("stale-read finding lacks the redirect and the early reader: %+v", f)
		}
		login, err := h.in.Exchange(f.Exchanges[0])
		if err != nil || !strings.HasSuffix(login.URL, "/login-late") {
			t.Fatalf("stale-read blames %v (%v), want the /login-late redirect", login, err)
		}
		reader, err := h.in.Exchange(f.Exchanges[1])
		if err != nil || !strings.HasSuffix(reader.URL, "/dashboard") {
			t.Fatalf("stale-read's first reader is %v (%v), want /dashboard", reader, err)
		}
	})
	t.Run("no stale-read when the session is saved before the redirect", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "")
		b.get("/")
		b.get("/login")
		b.get("/dashboard")
		h.waitExchanges(4) // /, /login → /dashboard, /dashboard
		if fs := h.findingsAfterStop(); hasAnyRule(fs, jointRuleIDs...) {
			t.Fatalf("a correct login flow gave findings %v", rules(fs))
		}
	})

	t.Run("cookie-missing: headers flushed before the session was written", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "")
		b.get("/flushed")
		f := h.waitFinding("cookie-missing")
		x, err := h.in.Exchange(f.Exchanges[0])
		if err != nil || !strings.HasSuffix(x.URL, "/flushed") || len(x.SetCookies) != 0 {
			t.Fatalf("cookie-missing cites %+v (%v), want the /flushed exchange without Set-Cookie", x, err)
		}
		created := h.WaitEvent(model.KindCreated, "sess:"+storeIDOf(t, h, f.Sessions[0]))
		if created.Exchange != x.ID {
			t.Fatalf("created event joined to exchange %q, want %q", created.Exchange, x.ID)
		}
	})
	t.Run("no cookie-missing when the new session's cookie goes out", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "")
		b.get("/")
		ev := h.waitFindingOrEvent(model.KindCreated)
		if ev.Exchange == "" {
			t.Fatalf("created event not joined to the exchange that caused it: %+v", ev)
		}
		if fs := h.findingsAfterStop(); hasRule(fs, "cookie-missing") {
			t.Fatalf("cookie-missing on a response that set the cookie: %v", rules(fs))
		}
	})

	t.Run("hijack-suspect: the app destroys a session used by a stranger", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		base := proxyFor(t, h, false, app.BaseURL)
		victim := newBrowser(t, base, uaVictim, "127.0.0.1")
		if got := victim.get("/login-fp"); got != 200 {
			t.Fatalf("victim login ended with %d", got)
		}
		victim.get("/checked") // the genuine user again: no suspicion
		attacker := newBrowser(t, base, uaAttacker, "127.0.0.2")
		attacker.stealFrom(victim)
		attacker.get("/checked")
		ev := h.Wait("destroyed event", func(o model.Object) bool {
			e, ok := o.(*model.Event)
			return ok && e.Kind == model.KindDestroyed
		}).(*model.Event)
		if ev.Cause != model.CauseHijackSuspect || ev.Exchange == "" {
			t.Fatalf("destroyed event: cause %q exchange %q, want hijack-suspect joined to the attacker's request", ev.Cause, ev.Exchange)
		}
		x, err := h.in.Exchange(ev.Exchange)
		if err != nil || !strings.HasPrefix(x.Client.Addr, "127.0.0.2:") {
			t.Fatalf("destroyed event joined to %+v (%v), want the attacker's exchange", x, err)
		}
		f := h.waitFinding("hijack-suspect")
		if !strings.Contains(f.Evidence[0], "127.0.0.2") {
			t.Fatalf("hijack-suspect evidence does not name the stranger: %v", f.Evidence)
		}
		if fs := h.findingsAfterStop(); hasRule(fs, "hijack-ignored") {
			t.Fatalf("hijack-ignored although the app destroyed the session: %v", rules(fs))
		}
	})
	t.Run("hijack-ignored: the app serves a stranger", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		base := proxyFor(t, h, false, app.BaseURL)
		victim := newBrowser(t, base, uaVictim, "127.0.0.1")
		victim.get("/login")
		attacker := newBrowser(t, base, uaAttacker, "127.0.0.2")
		attacker.stealFrom(victim)
		if got := attacker.get("/dashboard"); got != 200 {
			t.Fatalf("attacker got %d, want the dashboard", got)
		}
		f := h.waitFinding("hijack-ignored")
		if f.Severity != model.SeverityError || !strings.Contains(f.Fix, "session_destroy()") {
			t.Fatalf("hijack-ignored finding: %+v", f)
		}
	})
	t.Run("no hijack finding for the same client", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		victim := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "127.0.0.1")
		victim.get("/login-fp")
		victim.get("/checked")
		h.waitExchanges(3)
		if fs := h.findingsAfterStop(); hasAnyRule(fs, jointRuleIDs...) {
			t.Fatalf("one client gave findings %v", rules(fs))
		}
	})

	t.Run("logout-not-destroyed: the cookie is cleared, the key stays", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "")
		b.get("/login")
		b.get("/logout-cookie-only")
		f := h.waitFinding("logout-not-destroyed")
		if !strings.Contains(f.Detail, "connect.sid") || !strings.Contains(f.Fix, "req.session.destroy") {
			t.Fatalf("logout-not-destroyed: %+v", f)
		}
	})
	t.Run("no logout-not-destroyed when logout destroys the session", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		app := traffictest.StartNode(t, h.srv.URL())
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "")
		b.get("/login")
		b.get("/logout")
		h.waitFindingOrEvent(model.KindDestroyed)
		if fs := h.findingsAfterStop(); hasRule(fs, "logout-not-destroyed") {
			t.Fatalf("logout-not-destroyed after a real destroy: %v", rules(fs))
		}
	})

	t.Run("session-not-shared: round-robin over two stores", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		other := redistest.Start(t, redistest.Options{})
		app1 := traffictest.StartNode(t, h.srv.URL())
		app2 := traffictest.StartNode(t, other.URL())
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, false, app1.BaseURL, app2.BaseURL), uaVictim, "")
		b.get("/") // app1 issues the session
		b.get("/") // app2 does not know it and issues another
		f := h.waitFinding("session-not-shared")
		if !strings.Contains(f.Detail, app1.BaseURL[len("http://"):]) || !strings.Contains(f.Detail, "fresh session") {
			t.Fatalf("session-not-shared does not name the upstreams and what happened: %s", f.Detail)
		}
	})
	t.Run("no session-not-shared with sticky sessions", func(t *testing.T) {
		h := newHarness(t, harnessOptions{})
		other := redistest.Start(t, redistest.Options{})
		app1 := traffictest.StartNode(t, h.srv.URL())
		app2 := traffictest.StartNode(t, other.URL())
		h.WaitLive()
		b := newBrowser(t, proxyFor(t, h, true, app1.BaseURL, app2.BaseURL), uaVictim, "")
		for i := 0; i < 4; i++ {
			b.get("/")
		}
		if fs := h.findingsAfterStop(); hasRule(fs, "session-not-shared") {
			t.Fatalf("session-not-shared with sticky sessions: %v", rules(fs))
		}
	})

	for _, tc := range []struct {
		name, env, want string
	}{
		{"cookie-outlives-session: store TTL 60 s, cookie 24 h", "STORE_TTL=60", "cookie-outlives-session"},
		{"session-outlives-cookie: store TTL 7 days, cookie 24 h", fmt.Sprintf("STORE_TTL=%d", 7*86400), "session-outlives-cookie"},
		{"matching lifetimes", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			var env []string
			if tc.env != "" {
				env = append(env, tc.env)
			}
			app := traffictest.StartNodeEnv(t, h.srv.URL(), env...)
			h.WaitLive()
			b := newBrowser(t, proxyFor(t, h, false, app.BaseURL), uaVictim, "")
			b.get("/")
			if tc.want != "" {
				h.waitFinding(tc.want)
				return
			}
			h.waitFindingOrEvent(model.KindCreated)
			if fs := h.findingsAfterStop(); hasRule(fs, "cookie-outlives-session") || hasRule(fs, "session-outlives-cookie") {
				t.Fatalf("lifetime finding with matching lifetimes: %v", rules(fs))
			}
		})
	}
}

func TestSessionsEvictedRealRedis(t *testing.T) {
	h := newHarness(t, harnessOptions{redis: redistest.Options{Args: []string{"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"}}})
	h.WaitLive()
	payload := strings.Repeat("x", 4096)
	for i := 0; i < 2000; i++ {
		h.do("SET", fmt.Sprintf("PHPREDIS_SESSION:evict%026d", i), "user|"+phpString(payload), "EX", 3600)
	}
	f := h.waitFinding("sessions-evicted")
	if f.Severity != model.SeverityError || !strings.Contains(f.Fix, "noeviction") {
		t.Fatalf("sessions-evicted: %+v", f)
	}
}

// waitExchanges waits until n exchanges were published.
func (h *harness) waitExchanges(n int) {
	h.t.Helper()
	seen := 0
	h.Wait(fmt.Sprintf("%d exchanges", n), func(o model.Object) bool {
		if _, ok := o.(*model.Exchange); ok {
			seen++
		}
		return seen >= n
	})
}

// waitFindingOrEvent waits for the first event of a kind and returns it.
func (h *harness) waitFindingOrEvent(kind model.Kind) *model.Event {
	h.t.Helper()
	return h.Wait(string(kind)+" event", func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Kind == kind
	}).(*model.Event)
}

// storeIDOf finds the store id of a ref among the emitted events.
func storeIDOf(t *testing.T, h *harness, ref string) string {
	t.Helper()
	ev := h.Wait("an event of "+ref, func(o model.Object) bool {
		e, ok := o.(*model.Event)
		return ok && e.Session != nil && e.Session.Ref == ref
	}).(*model.Event)
	return ev.Session.StoreID
}

// TestFixationAdoptedIDRealPHP plants a session id the server never issued, as an
// attacker would, and checks that PHP without strict mode adopting it is reported,
// and that with session.use_strict_mode=1 (PHP refuses it and issues its own) it is not.
func TestFixationAdoptedIDRealPHP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		strict string
		want   bool
	}{
		{"use_strict_mode=0 adopts the planted id", "session.use_strict_mode=0", true},
		{"use_strict_mode=1 refuses it", "session.use_strict_mode=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			app := traffictest.StartPHP(t, h.srv.Addr, tc.strict)
			h.WaitLive()
			base := proxyFor(t, h, false, app.BaseURL)
			victim := newBrowser(t, base, uaVictim, "")
			u, _ := url.Parse(base)
			victim.c.Jar.SetCookies(u, []*http.Cookie{{Name: "PHPSESSID", Value: "attackerchosen0123456789abcdef", Path: "/"}})
			victim.get("/index.php")
			created := h.waitFindingOrEvent(model.KindCreated)
			if tc.want {
				f := h.waitFinding("fixation")
				if !strings.Contains(f.Title, "did not issue") || !strings.Contains(f.Detail, "not seen issued") || !strings.Contains(f.Fix, "use_strict_mode = 1") || created.Exchange == "" {
					t.Fatalf("fixation finding %+v, created joined to %q", f, created.Exchange)
				}
				return
			}
			if fs := h.findingsAfterStop(); hasRule(fs, "fixation") {
				t.Fatalf("fixation although PHP refused the planted id: %v", rules(fs))
			}
		})
	}
}
