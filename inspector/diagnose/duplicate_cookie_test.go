package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// sameNameStep is one exchange of a hand-written browser history.
type sameNameStep struct {
	method, url string
	status      int
	referer     string
	location    string   // of a 302; default /
	sent        []string // name=value, in Cookie header order
	set         []string // Set-Cookie lines
}

func sameNameHistory(steps []sameNameStep) []*model.Exchange {
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var xs []*model.Exchange
	for i, s := range steps {
		x := &model.Exchange{ID: "x" + string(rune('a'+i)), Start: base.Add(time.Duration(i) * time.Second),
			Method: s.method, URL: s.url, RawURL: s.url, Status: s.status, RawReferer: s.referer,
			Client: model.Client{Addr: "127.0.0.1:5000", UA: "test"}}
		x.End = x.Start.Add(10 * time.Millisecond)
		if s.status == 302 {
			x.RawLocation = s.location
			if x.RawLocation == "" {
				x.RawLocation = "/"
			}
			x.Location = x.RawLocation
		}
		for _, c := range s.sent {
			name, value, _ := strings.Cut(c, "=")
			x.CookiesSent = append(x.CookiesSent, model.SentCookie{Name: name, Value: value})
		}
		for _, line := range s.set {
			first, attrs, _ := strings.Cut(line, ";")
			name, value, _ := strings.Cut(first, "=")
			sc := model.SetCookie{Name: name, Value: value, Raw: line}
			if strings.Contains(strings.ToLower(attrs), "max-age=0") {
				zero := 0
				sc.MaxAge = &zero
			}
			x.SetCookies = append(x.SetCookies, sc)
		}
		xs = append(xs, x)
	}
	return xs
}

// TestSameNameCookies covers duplicate-cookie, cookie-not-cleared and the SameSite
// wording of cookie-not-sent on histories small enough to read.
func TestSameNameCookies(t *testing.T) {
	type want struct {
		rule     string
		contains []string // in title, detail, fix or evidence
		absent   []string
	}
	tests := []struct {
		name  string
		steps []sameNameStep
		want  []want
		none  []string // rules that must not report
	}{
		{name: "host-only cookie kept after the app set a Domain", steps: []sameNameStep{
			{method: "GET", url: "http://shop.test/old", status: 200, set: []string{"PHPSESSID=aaa; Path=/"}},
			{method: "POST", url: "http://shop.test/login", status: 302, sent: []string{"PHPSESSID=aaa"}, set: []string{"PHPSESSID=bbb; Domain=shop.test; Path=/"}},
			{method: "GET", url: "http://shop.test/", status: 200, sent: []string{"PHPSESSID=aaa", "PHPSESSID=bbb"}, set: []string{"PHPSESSID=ccc; Domain=shop.test; Path=/"}},
		}, want: []want{{"duplicate-cookie", []string{"2 cookies named PHPSESSID", "here the first one, host-only shop.test; Path=/", "the response handed out a new PHPSESSID",
			"set by http://shop.test/login (xb)", "Set-Cookie: PHPSESSID=; Path=/; Max-Age=0", "setcookie('PHPSESSID', '', ['expires' => 1, 'path' => '/'])",
			"header_register_callback"}, []string{"'domain' => 'shop.test'", "__Host-"}}}},
		{name: "cookie tossed by a sibling subdomain", steps: []sameNameStep{
			{method: "GET", url: "http://evil.shop.test/", status: 200, set: []string{"PHPSESSID=eee; Domain=shop.test; Path=/"}},
			{method: "GET", url: "http://shop.test/", status: 200, sent: []string{"PHPSESSID=eee"}, set: []string{"PHPSESSID=aaa; Path=/"}},
			{method: "GET", url: "http://shop.test/dashboard", status: 302, location: "/login", sent: []string{"PHPSESSID=eee", "PHPSESSID=aaa"}},
		}, want: []want{{"duplicate-cookie", []string{"here the first one, Domain=shop.test; Path=/", "the response sent the browser to http://shop.test/login", "set by another host, evil.shop.test",
			"Set-Cookie: PHPSESSID=; Path=/; Domain=shop.test; Max-Age=0", "'domain' => 'shop.test'", "__Host-PHPSESSID"}, nil}}},
		{name: "a longer Path goes first", steps: []sameNameStep{
			{method: "GET", url: "http://shop.test/", status: 200, set: []string{"PHPSESSID=aaa; Path=/"}},
			{method: "GET", url: "http://shop.test/app/x", status: 200, sent: []string{"PHPSESSID=aaa"}, set: []string{"PHPSESSID=ppp; Path=/app"}},
			{method: "GET", url: "http://shop.test/app/y", status: 401, sent: []string{"PHPSESSID=ppp", "PHPSESSID=aaa"}},
		}, want: []want{{"duplicate-cookie", []string{"here the first one, host-only shop.test; Path=/app", "the response refused it (401)", "Path=/; Max-Age=0"}, nil}}},
		{name: "duplicates the app copes with", steps: []sameNameStep{
			{method: "GET", url: "http://evil.shop.test/", status: 200, set: []string{"PHPSESSID=eee; Domain=shop.test; Path=/"}},
			{method: "POST", url: "http://shop.test/login", status: 302, location: "/dashboard", sent: []string{"PHPSESSID=eee"}, set: []string{"PHPSESSID=aaa; Path=/"}},
			{method: "GET", url: "http://shop.test/dashboard", status: 200, sent: []string{"PHPSESSID=eee", "PHPSESSID=aaa"}},
			{method: "POST", url: "http://shop.test/login", status: 302, location: "/dashboard", sent: []string{"PHPSESSID=eee", "PHPSESSID=aaa"}},
		}, none: []string{"duplicate-cookie"}},
		{name: "one cookie per name", steps: []sameNameStep{
			{method: "GET", url: "http://shop.test/", status: 200, set: []string{"PHPSESSID=aaa; Path=/"}},
			{method: "GET", url: "http://shop.test/", status: 200, sent: []string{"PHPSESSID=aaa", "other=1", "other=2"}},
		}, none: []string{"duplicate-cookie", "cookie-not-cleared"}},
		{name: "logout expiry without the Domain", steps: []sameNameStep{
			{method: "POST", url: "http://shop.test/login", status: 302, set: []string{"PHPSESSID=bbb; Domain=shop.test; Path=/"}},
			{method: "GET", url: "http://shop.test/logout", status: 302, sent: []string{"PHPSESSID=bbb"}, set: []string{"PHPSESSID=deleted; Max-Age=0; Path=/"}},
		}, want: []want{{"cookie-not-cleared", []string{"tried to clear PHPSESSID but the browser kept it", "holds PHPSESSID as Domain=shop.test; Path=/",
			"Set-Cookie: PHPSESSID=; Path=/; Domain=shop.test; Max-Age=0", "'domain' => 'shop.test'", "session_destroy()"}, nil}}},
		{name: "logout expiry with the Domain", steps: []sameNameStep{
			{method: "POST", url: "http://shop.test/login", status: 302, set: []string{"PHPSESSID=bbb; Domain=shop.test; Path=/"}},
			{method: "GET", url: "http://shop.test/logout", status: 302, sent: []string{"PHPSESSID=bbb"}, set: []string{"PHPSESSID=deleted; Max-Age=0; Path=/; Domain=shop.test"}},
		}, none: []string{"cookie-not-cleared"}},
		{name: "logout clears the stale cookie and the right one", steps: []sameNameStep{
			{method: "POST", url: "http://shop.test/login", status: 302, set: []string{"PHPSESSID=bbb; Domain=shop.test; Path=/"}},
			{method: "GET", url: "http://shop.test/logout", status: 302, sent: []string{"PHPSESSID=bbb"},
				set: []string{"PHPSESSID=deleted; Max-Age=0; Path=/", "PHPSESSID=deleted; Max-Age=0; Path=/; Domain=shop.test"}},
		}, none: []string{"cookie-not-cleared"}},
		{name: "a routine expiry of a cookie already gone", steps: []sameNameStep{
			{method: "POST", url: "http://shop.test/login", status: 302, set: []string{"PHPSESSID=bbb; Domain=shop.test; Path=/"}},
			{method: "GET", url: "http://shop.test/page", status: 200, sent: []string{"PHPSESSID=bbb"}, set: []string{"PHPSESSID=deleted; Max-Age=0; Path=/"}},
		}, none: []string{"cookie-not-cleared"}},
		{name: "SameSite=Strict from another site over http", steps: []sameNameStep{
			{method: "GET", url: "http://shop.test/", status: 200, set: []string{"PHPSESSID=aaa; Path=/; SameSite=Strict"}},
			{method: "GET", url: "http://shop.test/dashboard", status: 200, referer: "http://idp.test/"},
		}, want: []want{{"cookie-not-sent", []string{"(SameSiteStrict)", "came from another site (http://idp.test)", "DevTools labels it SchemefulSameSiteStrict", "SameSite=Lax"},
			[]string{"http and https of the same site", "Serve the whole site over https", "(SchemefulSameSiteStrict)"}}}},
		{name: "SameSite=Strict from the same site over https", steps: []sameNameStep{
			{method: "GET", url: "http://shop.test/", status: 200, set: []string{"PHPSESSID=aaa; Path=/; SameSite=Strict"}},
			{method: "GET", url: "http://shop.test/dashboard", status: 200, referer: "https://shop.test/"},
		}, want: []want{{"cookie-not-sent", []string{"(SchemefulSameSiteStrict)", "http and https of the same site count as different sites", "Serve the whole site over https"},
			[]string{"DevTools labels it"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, mode := range []string{"analyze", "live"} {
				var fs []model.Finding
				if mode == "analyze" {
					fs = AnalyzeExchanges(sameNameHistory(tc.steps), AnalyzeOptions{})
				} else {
					e := NewEngine(Config{})
					for _, x := range sameNameHistory(tc.steps) {
						e.ObserveExchange(x)
					}
					fs = e.Findings()
				}
				for _, w := range tc.want {
					f := sameNameFinding(fs, w.rule)
					if f == nil {
						t.Errorf("%s: no %s finding; got %v", mode, w.rule, sameNameRules(fs))
						continue
					}
					text := strings.Join(append([]string{f.Title, f.Detail, f.Fix}, f.Evidence...), "\n")
					for _, c := range w.contains {
						if !strings.Contains(text, c) {
							t.Errorf("%s: %s lacks %q:\n%s", mode, w.rule, c, text)
						}
					}
					for _, c := range w.absent {
						if strings.Contains(text, c) {
							t.Errorf("%s: %s says %q:\n%s", mode, w.rule, c, text)
						}
					}
				}
				for _, r := range tc.none {
					if f := sameNameFinding(fs, r); f != nil {
						t.Errorf("%s: unexpected %s: %s", mode, r, f.Detail)
					}
				}
			}
		})
	}
}

// TestDuplicateCookieCitedByLoginLoop: the loop that duplicates cause names the
// duplicate-cookie finding as its root cause, not the store-side guess.
func TestDuplicateCookieCitedByLoginLoop(t *testing.T) {
	steps := []sameNameStep{
		{method: "GET", url: "http://shop.test/old", status: 200, set: []string{"PHPSESSID=aaa; Path=/"}},
	}
	for i, id := range []string{"b", "c", "d", "e"} {
		all := []string{"PHPSESSID=aaa", "PHPSESSID=" + id + id + id}
		if i == 0 {
			all = []string{"PHPSESSID=aaa"}
		}
		next := string(rune('f'+i)) + string(rune('f'+i)) + string(rune('f'+i))
		steps = append(steps,
			sameNameStep{method: "POST", url: "http://shop.test/login", status: 302, sent: all, set: []string{"PHPSESSID=" + id + id + id + "; Domain=shop.test; Path=/"}},
			sameNameStep{method: "GET", url: "http://shop.test/dashboard", status: 302, sent: []string{"PHPSESSID=aaa", "PHPSESSID=" + id + id + id},
				set: []string{"PHPSESSID=" + next + "; Domain=shop.test; Path=/"}})
	}
	fs := AnalyzeExchanges(sameNameHistory(steps), AnalyzeOptions{})
	loop := sameNameFinding(fs, "login-loop")
	if loop == nil {
		t.Fatalf("no login-loop; got %v", sameNameRules(fs))
	}
	if !strings.Contains(loop.Detail, "Root cause: duplicate-cookie (PHPSESSID sent 2 times") || strings.Contains(loop.Detail, "not visible from the HTTP side") {
		t.Errorf("login-loop does not name duplicate-cookie as its cause:\n%s", loop.Detail)
	}
}

func sameNameFinding(fs []model.Finding, rule string) *model.Finding {
	for i := range fs {
		if fs[i].Rule == rule {
			return &fs[i]
		}
	}
	return nil
}

func sameNameRules(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

// TestDuplicateCookieLive: live, each request that carries the cookie twice and
// loses its session is replayed at once, so duplicate-cookie is published with it.
func TestDuplicateCookieLive(t *testing.T) {
	steps := []sameNameStep{
		{method: "GET", url: "http://shop.test/old", status: 200, set: []string{"PHPSESSID=aaa; Path=/"}},
		{method: "GET", url: "http://shop.test/a", status: 200, sent: []string{"PHPSESSID=aaa"}, set: []string{"PHPSESSID=bbb; Domain=shop.test; Path=/"}},
		{method: "GET", url: "http://shop.test/b", status: 302, location: "/login", sent: []string{"PHPSESSID=aaa", "PHPSESSID=bbb"}},
		{method: "GET", url: "http://shop.test/c", status: 302, location: "/login", sent: []string{"PHPSESSID=aaa", "PHPSESSID=bbb"}},
	}
	e := NewEngine(Config{})
	for i, x := range sameNameHistory(steps) {
		_, changed := e.ObserveExchange(x)
		published := 0
		for _, f := range changed {
			if f.Rule == "duplicate-cookie" {
				published = f.Count
			}
		}
		if want := max(i-1, 0); published != want {
			t.Errorf("%s: duplicate-cookie published with count %d, want %d", x.URL, published, want)
		}
	}
}
