package diagnose

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// replayAlways is the reference the live rules must agree with: the whole client
// history replayed through AnalyzeExchanges on every exchange.
type replayAlways struct {
	opts      AnalyzeOptions
	byClient  map[model.Client][]*model.Exchange
	published map[string]string
}

func (r *replayAlways) observe(x *model.Exchange) (*model.Exchange, []*model.Finding) {
	own := x.Clone()
	hist := append(r.byClient[x.Client], own)
	if len(hist) > maxExchangesPerClient {
		hist = hist[len(hist)-maxExchangesPerClient:]
	}
	r.byClient[x.Client] = hist
	var changed []*model.Finding
	for _, f := range AnalyzeExchanges(hist, r.opts) {
		sig := f.LastSeen.String() + "|" + strconv.Itoa(f.Count) + "|" + f.Detail
		if r.published[f.ID] == sig {
			continue
		}
		r.published[f.ID] = sig
		f := f
		changed = append(changed, &f)
	}
	return own.Clone(), changed
}

func liveOptions() AnalyzeOptions {
	return AnalyzeOptions{Mapping: framework.RefMapper(nil)}
}

// exchangeBuilder makes proxied exchanges the way traffic.Proxy records them.
type exchangeBuilder struct {
	n    int
	now  time.Time
	step time.Duration // between exchanges; default 20 ms
}

func (b *exchangeBuilder) make(client model.Client, method, rawURL string, status int, location string, sent string, setCookies ...string) *model.Exchange {
	b.n++
	if b.step == 0 {
		b.step = 20 * time.Millisecond
	}
	b.now = b.now.Add(b.step)
	m := framework.RefMapper(nil)
	x := &model.Exchange{Type: model.TypeExchange, ID: fmt.Sprintf("p-%d", b.n), Start: b.now, HeadersSent: b.now, End: b.now,
		Method: method, URL: rawURL, RawURL: rawURL, Status: status, Client: client, Source: model.SourceProxy,
		Location: location, RawLocation: location}
	for _, pair := range strings.Split(sent, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			continue
		}
		sc := model.SentCookie{Name: name, Value: value}
		sc.SessionRef, _ = m(name, value)
		if x.SessionRef == "" {
			x.SessionRef = sc.SessionRef
		}
		x.CookiesSent = append(x.CookiesSent, sc)
	}
	for _, line := range setCookies {
		sc := model.SetCookie{Raw: line}
		if c, err := http.ParseSetCookie(line); err == nil {
			sc.Name, sc.Value, sc.Domain, sc.Path, sc.Secure, sc.HTTPOnly = c.Name, c.Value, c.Domain, c.Path, c.Secure, c.HttpOnly
			switch {
			case c.MaxAge > 0:
				v := c.MaxAge
				sc.MaxAge = &v
			case c.MaxAge < 0:
				v := 0
				sc.MaxAge = &v
			}
		} else {
			sc.ParseError = err.Error()
			first, _, _ := strings.Cut(line, ";")
			sc.Name, sc.Value, _ = strings.Cut(first, "=")
		}
		sc.SessionRef, _ = m(sc.Name, sc.Value)
		x.SetCookies = append(x.SetCookies, sc)
	}
	return x
}

func findingIDs(fs []*model.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	sort.Strings(ids)
	return ids
}

// compareLive feeds the same exchanges to the live rules and to the reference. Every
// annotation must be the same. A finding the reference publishes must be published
// by the live rules at the same exchange when it is new to them; updates of a finding
// already published may come later, and after a final replay of each client (as the
// next recount would do) the findings published must be the reference's. When
// diagnose itself answers differently for the same history (see stable), findings
// can no longer be compared: from there on only the annotations are, and at the end
// the rules published; exact is false then.
func compareLive(t *testing.T, xs []*model.Exchange) (live *liveTraffic, exact bool) {
	t.Helper()
	live = newLiveTraffic(liveOptions())
	// These flows compare the step with the replay exchange by exchange: every replay
	// runs at once, whatever it costs (TestLiveRulesDeferred covers the budget).
	live.budget = newReplayBudget(1, time.Hour)
	ref := &replayAlways{opts: liveOptions(), byClient: map[model.Client][]*model.Exchange{}, published: map[string]string{}}
	exact = true
	for i, x := range xs {
		before := maps.Clone(live.published)
		got, gotF := live.observe(x)
		want, wantF := ref.observe(x)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("exchange %d (%s %s %d): annotated\n got %+v\nwant %+v", i, x.Method, x.RawURL, x.Status, got, want)
		}
		if !exact {
			continue
		}
		gotIDs := map[string]bool{}
		for _, f := range gotF {
			gotIDs[f.ID] = true
		}
		for _, f := range wantF {
			if _, known := before[f.ID]; known || gotIDs[f.ID] {
				continue
			}
			if !stable(ref.byClient[x.Client]) {
				t.Logf("exchange %d: AnalyzeExchanges answers differently for the same history; findings compared up to here", i)
				exact = false
				break
			}
			t.Fatalf("exchange %d (%s %s %d): finding %s (%s) published by the full replay only; live published %v",
				i, x.Method, x.RawURL, x.Status, f.ID, f.Title, findingIDs(gotF))
		}
	}
	clients := map[model.Client]bool{}
	for _, x := range xs {
		clients[x.Client] = true
	}
	for c := range clients {
		live.replay(c)
	}
	if exact {
		for c := range clients {
			if !stable(ref.byClient[c]) {
				exact = false
			}
		}
	}
	if exact && !reflect.DeepEqual(live.published, ref.published) {
		for id, sig := range ref.published {
			if live.published[id] != sig {
				t.Errorf("finding %s: live published %q, want %q", id, live.published[id], sig)
			}
		}
		for id := range live.published {
			if _, ok := ref.published[id]; !ok {
				t.Errorf("finding %s published by the live rules only", id)
			}
		}
		t.FailNow()
	}
	if gotR, wantR := publishedRules(live.published), publishedRules(ref.published); !reflect.DeepEqual(gotR, wantR) {
		t.Fatalf("rules published %v, want %v", gotR, wantR)
	}
	return live, exact
}

func publishedRules(published map[string]string) []string {
	seen := map[string]bool{}
	for id := range published {
		seen[id[:strings.LastIndexByte(id, '-')]] = true
	}
	var rules []string
	for r := range seen {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	return rules
}

// stable reports whether replaying hist gives the same findings every time. It does
// not always: login-loop picks among equally repeated redirect targets, and
// session-id-in-url among the ids a URL holds, in map order.
func stable(hist []*model.Exchange) bool {
	first := ""
	for k := 0; k < 20; k++ {
		var cl []*model.Exchange
		for _, h := range hist {
			cl = append(cl, h.Clone())
		}
		var sigs []string
		for _, f := range AnalyzeExchanges(cl, liveOptions()) {
			sigs = append(sigs, f.ID+"|"+strconv.Itoa(f.Count)+"|"+f.Detail)
		}
		sort.Strings(sigs)
		if s := strings.Join(sigs, "\n"); k == 0 {
			first = s
		} else if s != first {
			return false
		}
	}
	return true
}

const (
	sidA = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	sidB = "b7d1e0c4a9f2g6h3j8k5l1m0n2"
	sidC = "z9y8x7w6v5u4t3s2r1q0p9o8n7"
)

// TestLiveRulesMatchFullReplay: the live HTTP-side rules publish, exchange by
// exchange, the same cookie verdicts and findings as replaying each client's whole
// history every time, on the flows the rules are about.
func TestLiveRulesMatchFullReplay(t *testing.T) {
	browser := model.Client{Addr: "127.0.0.1:50000", UA: "Mozilla/5.0"}
	other := model.Client{Addr: "127.0.0.1:50001", UA: "Mozilla/5.0"}
	const base = "http://127.0.0.1:8080"
	cases := []struct {
		name        string
		flow        func(b *exchangeBuilder) []*model.Exchange
		wantRules   []string // rules published at least once, besides cookie-flags
		maxReplays  int      // full replays the live rules may need; -1: any
		wantReplays int      // at least this many
	}{
		{"steady session app", func(b *exchangeBuilder) []*model.Exchange {
			var xs []*model.Exchange
			for i := 0; i < 60; i++ {
				xs = append(xs, b.make(browser, "GET", base+"/dashboard", 200, "", "PHPSESSID="+sidA+"; theme=dark",
					"PHPSESSID="+sidA+"; path=/; HttpOnly; SameSite=Lax"))
				xs = append(xs, b.make(browser, "GET", base+"/app.js", 200, "", "PHPSESSID="+sidA+"; theme=dark"))
			}
			return xs
		}, nil, 2, 1},
		{"login with regeneration", func(b *exchangeBuilder) []*model.Exchange {
			return []*model.Exchange{
				b.make(browser, "GET", base+"/index.php", 200, "", "", "PHPSESSID="+sidA+"; path=/; HttpOnly"),
				b.make(browser, "POST", base+"/login.php?regen=true", 302, "/dashboard.php", "PHPSESSID="+sidA, "PHPSESSID="+sidB+"; path=/; HttpOnly"),
				b.make(browser, "GET", base+"/dashboard.php", 200, "", "PHPSESSID="+sidB),
				b.make(browser, "GET", base+"/dashboard.php", 200, "", "PHPSESSID="+sidB),
				b.make(browser, "GET", base+"/logout.php", 302, "/index.php", "PHPSESSID="+sidB, "PHPSESSID=deleted; path=/; Max-Age=0"),
				b.make(browser, "GET", base+"/index.php", 200, "", "", "PHPSESSID="+sidC+"; path=/; HttpOnly"),
			}
		}, nil, -1, 1},
		{"login loop: cookie domain the browser refuses", func(b *exchangeBuilder) []*model.Exchange {
			var xs []*model.Exchange
			for attempt := 0; attempt < 2; attempt++ {
				xs = append(xs,
					b.make(browser, "GET", base+"/index.php", 200, "", "", "PHPSESSID="+sidA+"; path=/; domain=app.example.com; HttpOnly"),
					b.make(browser, "POST", base+"/login.php?regen=true", 302, "dashboard.php", "", "PHPSESSID="+sidB+"; path=/; domain=app.example.com; HttpOnly"),
					b.make(browser, "GET", base+"/dashboard.php", 302, "index.php", "", "PHPSESSID="+sidC+"; path=/; domain=app.example.com; HttpOnly"),
				)
			}
			return xs
		}, []string{"cookie-rejected", "login-loop"}, -1, 1},
		{"cookie not sent outside its path, secure cookie over http", func(b *exchangeBuilder) []*model.Exchange {
			return []*model.Exchange{
				b.make(browser, "GET", base+"/admin/", 200, "", "", "PHPSESSID="+sidA+"; path=/admin"),
				b.make(browser, "GET", base+"/admin/users", 200, "", "PHPSESSID="+sidA),
				b.make(browser, "GET", base+"/dashboard", 200, "", ""),
				b.make(browser, "GET", base+"/dashboard", 200, "", ""),
				b.make(other, "GET", "http://app.test/", 200, "", "", "connect.sid=s%3A"+sidB+".sig; Path=/; Secure"),
				b.make(other, "GET", "http://app.test/", 200, "", ""),
			}
		}, []string{"cookie-not-sent", "cookie-rejected"}, -1, 1},
		{"session id in a URL", func(b *exchangeBuilder) []*model.Exchange {
			return []*model.Exchange{
				b.make(browser, "GET", base+"/shop;jsessionid="+sidC, 200, "", ""),
				b.make(browser, "GET", base+"/cart?PHPSESSID="+sidA, 200, "", ""),
				b.make(browser, "GET", base+"/p/"+sidB+"/items", 200, "", ""),
				b.make(browser, "GET", base+"/account", 200, "", "PHPSESSID="+sidB),
				b.make(browser, "GET", base+"/page?n=2", 200, "", "PHPSESSID="+sidB),
			}
		}, []string{"session-id-in-url"}, -1, 1},
		{"a fresh session id on every page", func(b *exchangeBuilder) []*model.Exchange {
			// The browser sends the id it was given; the server never finds it.
			var xs []*model.Exchange
			sent := ""
			for i := 0; i < 8; i++ {
				id := fmt.Sprintf("fresh%021d", i)
				xs = append(xs, b.make(browser, "GET", base+"/dashboard", 200, "", sent, "PHPSESSID="+id+"; path=/"))
				sent = "PHPSESSID=" + id
			}
			return xs
		}, []string{"login-loop"}, -1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
			live, _ := compareLive(t, tc.flow(b))
			for _, want := range tc.wantRules {
				found := false
				for id := range live.published {
					if strings.HasPrefix(id, want+"-") {
						found = true
					}
				}
				if !found {
					t.Errorf("rule %s never published; published %v", want, live.published)
				}
			}
			for id := range live.published {
				rule := id[:strings.LastIndexByte(id, '-')]
				if rule != "cookie-flags" && !slices.Contains(tc.wantRules, rule) {
					t.Errorf("published %s, want only %v", id, tc.wantRules)
				}
			}
			if tc.maxReplays >= 0 && int(live.replays.Load()) > tc.maxReplays {
				t.Errorf("%d full replays, want at most %d: the live step should have handled these exchanges", live.replays.Load(), tc.maxReplays)
			}
			if int(live.replays.Load()) < tc.wantReplays {
				t.Errorf("%d full replays, want at least %d", live.replays.Load(), tc.wantReplays)
			}
		})
	}
}

// randomFlow is random browsing of one client (logins, redirects, refusals, assets,
// API calls, cookies with every attribute the rules look at, ids in URLs and
// Referers, injected headers, out-of-order starts, hours between requests), half of
// it the quiet page loads most traffic is.
func randomFlow(seed uint64) []*model.Exchange {
	hosts := []string{"http://127.0.0.1:8080", "http://app.test", "https://app.test", "http://www.app.test", "https://other.test"}
	paths := []string{"/", "/index.php", "/login.php", "/dashboard.php", "/admin/x", "/api/me", "/app.js", "/style.css",
		"/page?n=2", "/cart?PHPSESSID=" + sidA, "/p/" + sidB + "/x", "/q?ref=" + sidC, "/sign-in", "/x%2Fy"}
	sids := []string{sidA, sidB, sidC, "short1", "", "eyJ1c2VyIjoiYWRhIiwicm9sZSI6ImFkbWluIn0"}
	attrs := []string{"", "; Path=/", "; Path=/admin", "; Domain=app.test", "; Domain=example.com", "; Secure",
		"; SameSite=None", "; SameSite=Strict", "; SameSite=Lax", "; Max-Age=0", "; Max-Age=3600", "; HttpOnly"}
	names := []string{"PHPSESSID", "PHPSESSID", "connect.sid", "laravel_session", "theme", "__Host-sid", "user"}
	statuses := []int{200, 200, 200, 302, 302, 301, 401, 403, 404, 500}
	client := model.Client{Addr: "10.0.0.1:1", UA: "a"}
	rng := rand.New(rand.NewPCG(seed, 7))
	pick := func(v []string) string { return v[rng.IntN(len(v))] }
	b := &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	var xs []*model.Exchange
	for i := 0; i < 60; i++ {
		if rng.IntN(2) == 0 {
			xs = append(xs, b.make(client, "GET", hosts[rng.IntN(2)]+"/dashboard", 200, "", "PHPSESSID="+sidA, "PHPSESSID="+sidA+"; Path=/"))
			continue
		}
		method := "GET"
		if rng.IntN(5) == 0 {
			method = "POST"
		}
		status := statuses[rng.IntN(len(statuses))]
		loc := ""
		if status >= 300 && status < 400 {
			loc = pick(paths)
		}
		sent := ""
		if rng.IntN(2) == 0 {
			sent = pick(names) + "=" + pick(sids) + "; theme=dark"
		}
		var set []string
		for n := rng.IntN(3); n > 0; n-- {
			line := pick(names) + "=" + pick(sids)
			for k := rng.IntN(3); k > 0; k-- {
				line += pick(attrs)
			}
			set = append(set, line)
		}
		x := b.make(client, method, pick(hosts)+pick(paths), status, loc, sent, set...)
		if rng.IntN(6) == 0 {
			x.RawReferer = pick(hosts) + pick(paths)
		}
		if rng.IntN(30) == 0 {
			x.InjectedHeaders = []string{"Set-Cookie: PHPSESSID=…"}
		}
		if rng.IntN(25) == 0 {
			x.Start = x.Start.Add(-time.Second) // a slow request that started earlier
		}
		if rng.IntN(4) == 0 {
			b.now = b.now.Add(time.Duration(rng.IntN(3)) * time.Hour) // expiry in between
		}
		xs = append(xs, x)
	}
	return xs
}

// TestLiveRulesMatchFullReplayRandom compares random browsing step by step.
func TestLiveRulesMatchFullReplayRandom(t *testing.T) {
	const seeds = 40
	compared := 0
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			if _, exact := compareLive(t, randomFlow(seed)); exact {
				compared++
			}
		})
	}
	t.Logf("%d of %d random flows compared exactly to the end", compared, seeds)
	if compared < seeds/3 {
		t.Errorf("only %d of %d random flows could be compared exactly to the end", compared, seeds)
	}
}

// TestLiveRulesLongHistory runs one client past the kept history: every annotation
// still matches the full replay, and every finding the full replay publishes is
// published.
func TestLiveRulesLongHistory(t *testing.T) {
	browser := model.Client{Addr: "127.0.0.1:50000", UA: "Mozilla/5.0"}
	b := &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	live := newLiveTraffic(liveOptions())
	live.budget = newReplayBudget(1, time.Hour) // compared exchange by exchange
	ref := &replayAlways{opts: liveOptions(), byClient: map[model.Client][]*model.Exchange{}, published: map[string]string{}}
	const base = "http://127.0.0.1:8080"
	for i := 0; i < 3*maxExchangesPerClient; i++ {
		var x *model.Exchange
		switch {
		case i%97 == 50:
			x = b.make(browser, "GET", base+"/q?PHPSESSID="+sidA, 200, "", "PHPSESSID="+sidA)
		case i%131 == 70:
			x = b.make(browser, "GET", base+"/", 200, "", "PHPSESSID="+sidA, "PHPSESSID="+sidA+"; Path=/; Secure")
		default:
			x = b.make(browser, "GET", base+"/dashboard", 200, "", "PHPSESSID="+sidA, "PHPSESSID="+sidA+"; Path=/")
		}
		got, _ := live.observe(x)
		want, _ := ref.observe(x)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("exchange %d: annotated\n got %+v\nwant %+v", i, got, want)
		}
	}
	for id := range ref.published {
		if _, ok := live.published[id]; !ok {
			t.Errorf("finding %s published by the full replay only", id)
		}
	}
	if live.replays.Load() > 20 {
		t.Errorf("%d full replays for %d exchanges, want only the eventful ones replayed", live.replays.Load(), 3*maxExchangesPerClient)
	}
}

// BenchmarkLiveRules is the capture cost of the live HTTP-side rules: 32 connections
// each loading a page with its session cookie and getting it refreshed, 12,800
// exchanges a second in all (as the proxy benchmark drives them), against the full
// replay on every exchange. They share one address and User-Agent, so to the rules
// they are one browser whose session id changes on every page load: every exchange
// is eventful, and "live" replays within the budget, off the request path once it is
// drawn down.
func BenchmarkLiveRules(b *testing.B) {
	for _, mode := range []string{"live", "replay-always"} {
		b.Run(mode, func(b *testing.B) {
			eb := &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), step: 78 * time.Microsecond}
			xs := make([]*model.Exchange, b.N)
			for i := range xs {
				c := model.Client{Addr: fmt.Sprintf("127.0.0.1:%d", 40000+i%32), UA: "Mozilla/5.0"}
				id := fmt.Sprintf("sess%022d", i%32)
				xs[i] = eb.make(c, "GET", "http://127.0.0.1:8080/dashboard", 200, "", "PHPSESSID="+id+"; theme=dark",
					"PHPSESSID="+id+"; path=/; HttpOnly; SameSite=Lax")
			}
			live := newLiveTraffic(liveOptions())
			ref := &replayAlways{opts: liveOptions(), byClient: map[model.Client][]*model.Exchange{}, published: map[string]string{}}
			b.ReportAllocs()
			b.ResetTimer()
			for _, x := range xs {
				if mode == "live" {
					live.observe(x)
				} else {
					ref.observe(x)
				}
			}
			b.ReportMetric(float64(live.replays.Load()), "replays")
		})
	}
}

// TestEngineKeepsHTTPFindings: the engine is the one store of findings. What
// ObserveExchange reports is kept with the store side's (and handed to the caller to
// publish, not drained again); a store-side cause found later replays the client, and
// the login loop that now names it goes out with the next Drain.
func TestEngineKeepsHTTPFindings(t *testing.T) {
	browser := model.Client{Addr: "127.0.0.1:50000", UA: "Mozilla/5.0"}
	const base = "http://127.0.0.1:8080"
	b := &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	e := NewEngine(Config{})
	var xs []*model.Exchange
	published := map[string]*model.Finding{}
	for attempt := 0; attempt < 2; attempt++ {
		for _, x := range []*model.Exchange{
			b.make(browser, "GET", base+"/index.php", 200, "", "", "PHPSESSID="+sidA+"; path=/; domain=app.example.com; HttpOnly"),
			b.make(browser, "POST", base+"/login.php", 302, "dashboard.php", "", "PHPSESSID="+sidB+"; path=/; domain=app.example.com; HttpOnly"),
			b.make(browser, "GET", base+"/dashboard.php", 302, "index.php", "", "PHPSESSID="+sidC+"; path=/; domain=app.example.com; HttpOnly"),
		} {
			xs = append(xs, x)
			_, changed := e.ObserveExchange(x)
			for _, f := range changed {
				published[f.ID] = f
			}
		}
	}
	var loopID string
	for id, f := range published {
		if f.Rule == "login-loop" {
			loopID = id
		}
	}
	if loopID == "" {
		t.Fatalf("no login-loop published; published %v", slices.Collect(maps.Keys(published)))
	}
	if d := e.Drain(); len(d) != 0 {
		t.Errorf("Drain returned %d findings the caller already published", len(d))
	}
	e.Published(loopID, 42)
	kept := map[string]model.Finding{}
	for _, f := range e.Findings() {
		kept[f.ID] = f
	}
	for id, f := range published {
		if got, ok := kept[id]; !ok || got.Count != f.Count || got.Detail != f.Detail {
			t.Errorf("finding %s: kept %+v, published %+v", id, got, f)
		}
	}
	if kept[loopID].Seq != 42 {
		t.Errorf("login-loop seq %d, want the published 42", kept[loopID].Seq)
	}

	e.joint.addCause(xs[1], StoreCause{FindingID: "stale-read-0000", Summary: "stale-read (a test cause)"})
	var drained *model.Finding
	for _, f := range e.Drain() {
		if f.ID == loopID {
			drained = f
		}
	}
	if drained == nil || !strings.Contains(drained.Detail, "stale-read-0000") && !strings.Contains(drained.Detail, "a test cause") {
		t.Fatalf("after a store-side cause, Drain gave login-loop %+v, want it naming the cause", drained)
	}
}

// waitNoPending waits until the worker has run every deferred replay.
func waitNoPending(t *testing.T, live *liveTraffic) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for live.pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients still owed a deferred replay after a minute", live.pending())
		}
		time.Sleep(time.Millisecond) // polling the worker's progress; nothing announces it
	}
}

// TestLiveRulesDeferred: with the replay budget spent, no replay runs on the request
// path; each exchange still carries the full replay's cookie verdicts, the worker
// replays the clients, coalescing the triggers of a busy one, and what it finds is
// what the full replay publishes.
func TestLiveRulesDeferred(t *testing.T) {
	browser := model.Client{Addr: "127.0.0.1:50000", UA: "Mozilla/5.0"}
	other := model.Client{Addr: "127.0.0.1:50001", UA: "Mozilla/5.0 other"}
	const base = "http://127.0.0.1:8080"
	b := &exchangeBuilder{now: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	var xs []*model.Exchange
	for attempt := 0; attempt < 3; attempt++ { // a login loop: the Domain is refused
		xs = append(xs,
			b.make(browser, "GET", base+"/index.php", 200, "", "", "PHPSESSID="+sidA+"; path=/; domain=app.example.com; HttpOnly"),
			b.make(browser, "POST", base+"/login.php", 302, "dashboard.php", "", "PHPSESSID="+sidB+"; path=/; domain=app.example.com; HttpOnly"),
			b.make(browser, "GET", base+"/dashboard.php", 302, "index.php", "", "PHPSESSID="+sidC+"; path=/; domain=app.example.com; HttpOnly"))
	}
	xs = append(xs, // a cookie not sent outside its path
		b.make(other, "GET", base+"/admin/", 200, "", "", "PHPSESSID="+sidA+"; path=/admin"),
		b.make(other, "GET", base+"/admin/users", 200, "", "PHPSESSID="+sidA),
		b.make(other, "GET", base+"/dashboard", 200, "", ""))
	for i := 0; i < 60; i++ { // fresh ids page after page: every exchange eventful
		id := fmt.Sprintf("fresh%021d", i)
		xs = append(xs, b.make(browser, "GET", base+"/dashboard", 200, "", "", "PHPSESSID="+id+"; path=/"))
	}

	live := newLiveTraffic(liveOptions())
	live.budget = newReplayBudget(1, 0) // no burst: every replay deferred, the worker unpaced
	var mu sync.Mutex
	deferred := map[string]*model.Finding{}
	live.deferred = func(fs []*model.Finding) {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range fs {
			deferred[f.ID] = f
		}
	}
	ref := &replayAlways{opts: liveOptions(), byClient: map[model.Client][]*model.Exchange{}, published: map[string]string{}}
	// Hold the worker before its first snapshot until every exchange is in, so that the
	// triggers meanwhile must coalesce, however fast the worker would otherwise keep up
	// on an idle machine or fall behind on a loaded one. Nothing on the request path
	// takes pubMu while the budget defers every replay.
	live.pubMu.Lock()
	for i, x := range xs {
		got, gotF := live.observe(x)
		want, _ := ref.observe(x)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("exchange %d (%s %s %d): annotated\n got %+v\nwant %+v", i, x.Method, x.RawURL, x.Status, got, want)
		}
		if len(gotF) > 0 {
			t.Fatalf("exchange %d: %d findings published on the request path with the budget spent", i, len(gotF))
		}
	}
	live.pubMu.Unlock()
	waitNoPending(t, live)
	if runs, triggers := live.deferredRuns.Load(), live.replays.Load(); runs == 0 || runs >= triggers {
		t.Errorf("the worker ran %d replays for %d triggers, want some, coalesced", runs, triggers)
	}
	mu.Lock()
	for _, want := range []string{"login-loop", "cookie-rejected", "cookie-not-sent"} {
		found := false
		for id := range deferred {
			found = found || strings.HasPrefix(id, want+"-")
		}
		if !found {
			t.Errorf("no %s from the deferred replays; got %v", want, slices.Collect(maps.Keys(deferred)))
		}
	}
	mu.Unlock()
	exact := stable(ref.byClient[browser]) && stable(ref.byClient[other])
	// A finding both clients' histories raise (cookie-flags of the same cookie) is
	// published by whichever client was replayed last, and coalescing changes that
	// order: the engine keeps its largest count (Engine.keep). Compare the others.
	shared := map[string]bool{}
	for _, f := range AnalyzeExchanges(cloneHistory(ref.byClient[browser]), liveOptions()) {
		for _, g := range AnalyzeExchanges(cloneHistory(ref.byClient[other]), liveOptions()) {
			shared[f.ID] = shared[f.ID] || f.ID == g.ID
		}
	}
	for id, sig := range ref.published {
		if exact && !shared[id] && live.published[id] != sig {
			t.Errorf("finding %s: the deferred replays published %q, the full replay %q", id, live.published[id], sig)
		}
	}
}

// TestReplayBudget: the budget refills at its share of the time passed, up to its
// burst; replays run at once only while half the burst is left.
func TestReplayBudget(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	b := newReplayBudget(0.1, 100*time.Millisecond)
	if !b.plenty(t0) || b.wait(t0) != 0 {
		t.Fatal("a new budget is not full")
	}
	b.charge(60 * time.Millisecond)
	if b.plenty(t0) {
		t.Error("plenty with 40 ms of 100 left")
	}
	if b.wait(t0) != 0 {
		t.Error("a replay waits with 40 ms left")
	}
	b.charge(90 * time.Millisecond) // 50 ms owed
	if w := b.wait(t0); w < 500*time.Millisecond || w > 510*time.Millisecond {
		t.Errorf("wait %s with 50 ms owed at 10%%, want 500 ms", w)
	}
	if !b.plenty(t0.Add(time.Second)) { // 50 ms owed + 100 ms refilled: 50 left
		t.Error("not plenty after a second's refill")
	}
	if !b.plenty(t0.Add(time.Hour)) || b.left != 100*time.Millisecond {
		t.Errorf("left %s after an hour, want the burst", b.left)
	}
}
