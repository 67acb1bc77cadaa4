package diagnose

import (
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

var noSessionBrowser = model.Client{Addr: "127.0.0.1:50000", UA: "Chromium"}

// noSessionFlows are one browser's exchanges with an app on shop.localhost.
var noSessionFlows = map[string]func(b *exchangeBuilder) []*model.Exchange{
	// A BOM in an include: nothing sets a cookie, the login's header redirect fails
	// and the POST answers a blank 200.
	"blank login page": func(b *exchangeBuilder) []*model.Exchange {
		return []*model.Exchange{
			b.make(noSessionBrowser, "GET", "http://shop.localhost/index.php", 200, "", ""),
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 200, "", ""),
		}
	},
	// An echo before session_start() and a script redirect: the dashboard sees no
	// session and sends the browser back to the form, which it posts again.
	"script redirect loop": func(b *exchangeBuilder) []*model.Exchange {
		return []*model.Exchange{
			b.make(noSessionBrowser, "GET", "http://shop.localhost/index.php", 200, "", ""),
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 200, "", ""),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/dashboard.php", 302, "/index.php", ""),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/index.php", 200, "", ""),
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 200, "", ""),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/dashboard.php", 302, "/index.php", ""),
		}
	},
	// A login that redirects as if it had worked (the session failed to start for
	// another reason): a loop by redirects, which login-loop sees.
	"redirect loop": func(b *exchangeBuilder) []*model.Exchange {
		return []*model.Exchange{
			b.make(noSessionBrowser, "GET", "http://shop.localhost/index.php", 200, "", ""),
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 302, "/dashboard.php", ""),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/dashboard.php", 302, "/index.php", ""),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/index.php", 200, "", ""),
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 302, "/dashboard.php", ""),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/dashboard.php", 302, "/index.php", ""),
		}
	},
	"healthy": func(b *exchangeBuilder) []*model.Exchange {
		return []*model.Exchange{
			b.make(noSessionBrowser, "GET", "http://shop.localhost/index.php", 200, "", "",
				"PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa; path=/; HttpOnly; SameSite=Lax"),
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 302, "/dashboard.php", "PHPSESSID=aaaaaaaaaaaaaaaaaaaaaaaaaa",
				"PHPSESSID=bbbbbbbbbbbbbbbbbbbbbbbbbb; path=/; HttpOnly; SameSite=Lax"),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/dashboard.php", 200, "", "PHPSESSID=bbbbbbbbbbbbbbbbbbbbbbbbbb"),
		}
	},
	// A login the app refuses: a 401 is the app's answer, not a missing session.
	"refused login": func(b *exchangeBuilder) []*model.Exchange {
		return []*model.Exchange{
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 401, "", ""),
		}
	},
	// An app that starts the session only once the password is right: the first,
	// wrong attempt answers 200 without a cookie, the second sets one.
	"session only after a good password": func(b *exchangeBuilder) []*model.Exchange {
		return []*model.Exchange{
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 200, "", ""),
			b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 302, "/dashboard.php", "",
				"PHPSESSID=bbbbbbbbbbbbbbbbbbbbbbbbbb; path=/; HttpOnly; SameSite=Lax"),
			b.make(noSessionBrowser, "GET", "http://shop.localhost/dashboard.php", 200, "", "PHPSESSID=bbbbbbbbbbbbbbbbbbbbbbbbbb"),
		}
	},
	// Not a login page: a contact form that needs no session.
	"contact form": func(b *exchangeBuilder) []*model.Exchange {
		return []*model.Exchange{
			b.make(noSessionBrowser, "POST", "http://shop.localhost/contact.php", 200, "", ""),
		}
	},
}

func TestNoSessionRule(t *testing.T) {
	tests := []struct {
		flow         string
		opts         AnalyzeOptions
		storeWrote   bool           // the store side explains the login POST (cookie-missing)
		want         model.Severity // "" for no no-session finding
		contains     []string
		loop         bool // a login-loop finding that names no-session as root cause
		strippedText []string
	}{
		{flow: "blank login page", want: model.SeverityError,
			contains: []string{"p-2", "answered 200 without a redirect", "blank", "headers already sent", "BOM", "output_buffering", "OWASP Session Management Cheat Sheet",
				"headers_sent($file, $line)", "session_start() returns true"}},
		{flow: "script redirect loop", want: model.SeverityError, contains: []string{"p-2", "a script or a meta refresh"}},
		{flow: "redirect loop", want: model.SeverityError, contains: []string{"p-2", "redirect to /dashboard.php"}, loop: true},
		{flow: "blank login page", opts: AnalyzeOptions{CookiesAbsent: true}, want: model.SeverityWarning,
			contains:     []string{"export it again with sensitive data"},
			strippedText: []string{"No cookie in the HAR", "cannot tell the two apart"}},
		// In a HAR without cookies a login that redirected may just have lost its
		// cookie to the export.
		{flow: "redirect loop", opts: AnalyzeOptions{CookiesAbsent: true},
			strippedText: []string{"Chrome's sanitized export drops them", "not reached: the root cause of any login loop"}},
		{flow: "blank login page", storeWrote: true},
		{flow: "healthy"},
		{flow: "refused login"},
		{flow: "session only after a good password"},
		{flow: "contact form"},
	}
	for _, tc := range tests {
		name := tc.flow
		if tc.opts.CookiesAbsent {
			name += ", HAR without cookies"
		}
		if tc.storeWrote {
			name += ", store wrote a session"
		}
		t.Run(name, func(t *testing.T) {
			b := &exchangeBuilder{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
			xs := noSessionFlows[tc.flow](b)
			opts := tc.opts
			if tc.storeWrote {
				opts.StoreCauses = func(id string) []StoreCause {
					if id == "p-2" {
						return []StoreCause{{FindingID: "cookie-missing-00000000", Summary: "cookie-missing (...)"}}
					}
					return nil
				}
			}
			fs := AnalyzeExchanges(xs, opts)
			var ns, loop, stripped *model.Finding
			for i := range fs {
				switch fs[i].Rule {
				case "no-session":
					ns = &fs[i]
				case "login-loop":
					loop = &fs[i]
				case "sanitized-har":
					stripped = &fs[i]
				}
			}
			if tc.want == "" {
				if ns != nil {
					t.Fatalf("unexpected no-session finding: %s | %v", ns.Detail, ns.Evidence)
				}
			} else {
				if ns == nil {
					t.Fatalf("no no-session finding; got %s", describeRules(fs))
				}
				if ns.Severity != tc.want {
					t.Errorf("severity %s, want %s", ns.Severity, tc.want)
				}
				all := strings.Join(append([]string{ns.Title, ns.Detail, ns.Fix, strings.Join(ns.Exchanges, " ")}, ns.Evidence...), "\n")
				for _, s := range tc.contains {
					if !strings.Contains(all, s) {
						t.Errorf("no-session: missing %q in\n%s", s, all)
					}
				}
				for _, banned := range []string{"seed", "post-mortem"} {
					if strings.Contains(strings.ToLower(all), banned) {
						t.Errorf("no-session mentions %q:\n%s", banned, all)
					}
				}
			}
			if tc.loop {
				if loop == nil {
					t.Fatalf("no login-loop finding; got %s", describeRules(fs))
				}
				if !strings.Contains(loop.Detail, "Root cause: no-session") || !strings.Contains(loop.Detail, "[finding "+ns.ID+"]") {
					t.Errorf("the login loop does not name no-session as its root cause: %s", loop.Detail)
				}
			}
			if len(tc.strippedText) > 0 {
				if stripped == nil {
					t.Fatalf("no sanitized-har notice; got %s", describeRules(fs))
				}
				all := stripped.Title + "\n" + stripped.Detail + "\n" + strings.Join(stripped.Evidence, "\n")
				for _, s := range tc.strippedText {
					if !strings.Contains(all, s) {
						t.Errorf("sanitized-har: missing %q in\n%s", s, all)
					}
				}
				if ns != nil && strings.Contains(all, "sanitized export drops them") {
					t.Errorf("the notice calls the HAR sanitized although no-session explains it:\n%s", all)
				}
			}
		})
	}
}

// TestNoSessionLive: the live rules publish no-session with the login POST itself,
// not at the next recount, and agree with a full replay on every exchange.
func TestNoSessionLive(t *testing.T) {
	b := &exchangeBuilder{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC), step: time.Second}
	xs := []*model.Exchange{
		b.make(noSessionBrowser, "GET", "http://shop.localhost/index.php", 200, "", ""),
		b.make(noSessionBrowser, "GET", "http://shop.localhost/about.php", 200, "", ""),
		b.make(noSessionBrowser, "POST", "http://shop.localhost/login.php", 200, "", ""),
	}
	live := newLiveTraffic(liveOptions())
	var got []*model.Finding
	for _, x := range xs {
		_, got = live.observe(x)
	}
	var rules []string
	for _, f := range got {
		rules = append(rules, f.Rule)
	}
	if len(got) != 1 || got[0].Rule != "no-session" {
		t.Fatalf("the login POST published %v, want [no-session]", rules)
	}
	b = &exchangeBuilder{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC), step: time.Second}
	compareLive(t, noSessionFlows["script redirect loop"](b))
}

func describeRules(fs []model.Finding) string {
	var rules []string
	for _, f := range fs {
		rules = append(rules, f.Rule)
	}
	return "[" + strings.Join(rules, " ") + "]"
}
