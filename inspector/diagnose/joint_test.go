package diagnose

import (
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestDifferentNetwork(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"203.0.113.5:4431", "203.0.200.9:5555", false}, // same /16: a roaming client
		{"203.0.113.5:4431", "198.51.100.7:5555", true},
		{"127.0.0.1:40000", "127.0.0.1:40001", false}, // one loopback client, two ports
		{"127.0.0.1:40000", "127.0.0.2:40001", true},  // the lab's second client
		{"[2001:db8:1:2::1]:80", "[2001:db8:1:ffff::9]:80", false},
		{"[2001:db8:1:2::1]:80", "[2001:db8:2:2::1]:80", true},
		{"203.0.113.5", "[::ffff:203.0.113.9]:1", false}, // IPv4-mapped IPv6
		{"garbage", "garbage", false},
		{"garbage", "other", true},
	}
	for _, tc := range tests {
		if got := differentNetwork(tc.a, tc.b); got != tc.want {
			t.Errorf("differentNetwork(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestAnnotateJoinsByRefAndByUnambiguousTiming checks the event ↔ exchange join: by
// session ref when the cookie maps to a store id, and by timing only when exactly one
// request without a readable session (Laravel's encrypted cookie) was in flight.
func TestAnnotateJoinsByRefAndByUnambiguousTiming(t *testing.T) {
	t0 := time.Now()
	x := func(id, ref string, from, to time.Duration) *model.Exchange {
		return &model.Exchange{ID: id, SessionRef: ref, Start: t0.Add(from), HeadersSent: t0.Add(to), End: t0.Add(to),
			Method: "GET", URL: "http://app.test/", Status: 200,
			CookiesSent: []model.SentCookie{{Name: "laravel_session"}}}
	}
	ev := func(ref string, at time.Duration) *model.Event {
		return &model.Event{Kind: model.KindUpdated, Time: t0.Add(at), Session: &model.SessionInfo{Ref: ref}}
	}
	tests := []struct {
		name      string
		exchanges []*model.Exchange
		event     *model.Event
		want      string
	}{
		{"by ref", []*model.Exchange{x("a", "aaaaaaaaaaaa", 0, 50*time.Millisecond), x("b", "", 0, 50*time.Millisecond)},
			ev("aaaaaaaaaaaa", 20*time.Millisecond), "a"},
		{"one unmapped request in flight", []*model.Exchange{x("l", "", 0, 50*time.Millisecond)},
			ev("bbbbbbbbbbbb", 20*time.Millisecond), "l"},
		{"two unmapped requests in flight: ambiguous", []*model.Exchange{x("l1", "", 0, 50*time.Millisecond), x("l2", "", 10*time.Millisecond, 40*time.Millisecond)},
			ev("bbbbbbbbbbbb", 20*time.Millisecond), ""},
		{"nothing in flight", []*model.Exchange{x("l", "", 0, 50*time.Millisecond)},
			ev("bbbbbbbbbbbb", 500*time.Millisecond), ""},
		{"a mapped request of another session does not count", []*model.Exchange{x("l", "", 0, 50*time.Millisecond), x("o", "cccccccccccc", 0, 50*time.Millisecond)},
			ev("bbbbbbbbbbbb", 20*time.Millisecond), "l"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{})
			for _, x := range tc.exchanges {
				e.OnExchange(x)
			}
			e.Annotate(tc.event)
			if tc.event.Exchange != tc.want {
				t.Fatalf("joined to %q, want %q", tc.event.Exchange, tc.want)
			}
		})
	}
}

// TestCatalogMatchesRules keeps the catalog honest: every rule id the engines report
// under is listed once.
func TestCatalogMatchesRules(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Catalog() {
		if seen[r.ID] {
			t.Errorf("%s listed twice", r.ID)
		}
		seen[r.ID] = true
	}
	e := NewEngine(Config{})
	ids := []string{}
	for _, r := range e.rules {
		ids = append(ids, r.ID())
	}
	for _, r := range e.jointRules {
		ids = append(ids, r.ID())
	}
	ids = append(ids, "login-loop", "cookie-rejected", "cookie-not-sent", "session-id-in-url", "cookie-flags",
		"sensitive-data-in-cookie", "header-injection", "hijack-ignored", "session-outlives-cookie", "no-session",
		"duplicate-cookie", "cookie-not-cleared")
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("rule %s is not in the catalog", id)
		}
	}
}

// TestSameExchangeLateBirthNotification covers a regeneration whose new session's
// notification arrives after the browser's next request started: the deletion and the
// Set-Cookie of the new id are in the login request, the birth's arrival time falls in
// the dashboard request that already sends the new cookie. It is still one exchange.
// A logout followed by another request's new session is not.
func TestSameExchangeLateBirthNotification(t *testing.T) {
	t0 := time.Now()
	const oldRef, newRef = "aaaaaaaaaaaa", "bbbbbbbbbbbb"
	login := &model.Exchange{ID: "login", SessionRef: oldRef, Start: t0, HeadersSent: t0.Add(40 * time.Millisecond),
		End: t0.Add(40 * time.Millisecond), Method: "POST", URL: "http://app.test/login.php", Status: 302,
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID"}},
		SetCookies:  []model.SetCookie{{Name: "PHPSESSID", SessionRef: newRef}}}
	dashboard := &model.Exchange{ID: "dashboard", SessionRef: newRef, Start: t0.Add(60 * time.Millisecond),
		HeadersSent: t0.Add(200 * time.Millisecond), End: t0.Add(200 * time.Millisecond), Method: "GET",
		URL: "http://app.test/dashboard.php", Status: 200, CookiesSent: []model.SentCookie{{Name: "PHPSESSID"}}}
	logout := &model.Exchange{ID: "logout", SessionRef: oldRef, Start: t0, HeadersSent: t0.Add(40 * time.Millisecond),
		End: t0.Add(40 * time.Millisecond), Method: "GET", URL: "http://app.test/logout.php", Status: 302,
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID"}}}
	tests := []struct {
		name      string
		exchanges []*model.Exchange
		newAt     time.Duration
		want      bool
	}{
		{"birth seen inside the login request", []*model.Exchange{login, dashboard}, 30 * time.Millisecond, true},
		{"birth notification lands in the next request", []*model.Exchange{login, dashboard}, 120 * time.Millisecond, true},
		{"birth seen after the login, no next request yet", []*model.Exchange{login}, 120 * time.Millisecond, true},
		{"logout then a new session elsewhere", []*model.Exchange{logout, dashboard}, 120 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{})
			for _, x := range tc.exchanges {
				e.OnExchange(x)
			}
			same, known := e.SameExchange(oldRef, t0.Add(10*time.Millisecond), newRef, t0.Add(tc.newAt))
			if !known || same != tc.want {
				t.Fatalf("SameExchange = %v (known %v), want %v", same, known, tc.want)
			}
		})
	}
}

// TestBirthJoinsTheResponseThatIssuedTheID: PHP writes a new session at shutdown,
// after its response went out, so the birth's notification can fall in the browser's
// next request, which already sends the id. The birth belongs to the response whose
// Set-Cookie issued the id. An id its host never issued (planted, by another host's
// response or otherwise, then adopted) is born in the request that sent it, and a
// later write of the session stays with the request in flight.
func TestBirthJoinsTheResponseThatIssuedTheID(t *testing.T) {
	t0 := time.Now()
	const ref = "c286afb9be2e"
	at := func(d time.Duration) time.Time { return t0.Add(d * time.Millisecond) }
	issuing := &model.Exchange{ID: "get", Start: at(0), HeadersSent: at(2), End: at(3), Method: "GET",
		URL: "http://shop.test/index.php", Status: 200,
		SetCookies: []model.SetCookie{{Name: "PHPSESSID", Path: "/", SessionRef: ref}}}
	login := &model.Exchange{ID: "post", Start: at(5), HeadersSent: at(16), End: at(18), Method: "POST",
		URL: "http://shop.test/login.php", Status: 302, SessionRef: ref,
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: ref}}}
	planted := &model.Exchange{ID: "planted", Start: at(5), HeadersSent: at(16), End: at(18), Method: "GET",
		URL: "http://shop.test/index.php", Status: 200, SessionRef: ref,
		CookiesSent: []model.SentCookie{{Name: "PHPSESSID", SessionRef: ref}}}
	plantedBy := &model.Exchange{ID: "evil", Start: at(0), HeadersSent: at(2), End: at(3), Method: "GET",
		URL: "http://evil.shop.test/evil.php", Status: 200,
		SetCookies: []model.SetCookie{{Name: "PHPSESSID", Domain: "shop.test", Path: "/", SessionRef: ref}}}
	tests := []struct {
		name      string
		exchanges []*model.Exchange
		kind      model.Kind
		time      time.Duration
		want      string
	}{
		{"created written after the response, during the next request", []*model.Exchange{issuing, login}, model.KindCreated, 6, "get"},
		{"created while the issuing request runs", []*model.Exchange{issuing, login}, model.KindCreated, 1, "get"},
		{"an update in the next request stays there", []*model.Exchange{issuing, login}, model.KindUpdated, 10, "post"},
		{"a planted id no response issued is born where it was sent", []*model.Exchange{planted}, model.KindCreated, 6, "planted"},
		{"an id another host's response planted is born where it was sent", []*model.Exchange{plantedBy, planted}, model.KindCreated, 6, "planted"},
		{"an issuer out of the slack does not take it", []*model.Exchange{issuing, login}, model.KindCreated, 17 + 25, "post"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{})
			for _, x := range tc.exchanges {
				e.OnExchange(x)
			}
			ev := &model.Event{Kind: tc.kind, Time: at(tc.time), Session: &model.SessionInfo{Ref: ref}}
			e.Annotate(ev)
			if ev.Exchange != tc.want {
				t.Fatalf("joined to %q, want %q", ev.Exchange, tc.want)
			}
		})
	}
}
