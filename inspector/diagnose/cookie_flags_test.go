package diagnose

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// exch builds an exchange as the proxy records it: at is seconds after a fixed start.
func exch(id string, at int, method, rawURL string, status int, opts ...func(*model.Exchange)) *model.Exchange {
	start := time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC).Add(time.Duration(at) * time.Second)
	x := &model.Exchange{Type: model.TypeExchange, ID: id, Start: start, End: start.Add(10 * time.Millisecond),
		Method: method, URL: rawURL, RawURL: rawURL, Status: status, Source: model.SourceProxy}
	for _, o := range opts {
		o(x)
	}
	return x
}

// setCookie adds Set-Cookie lines, parsed as the traffic package does.
func setCookie(lines ...string) func(*model.Exchange) {
	return func(x *model.Exchange) {
		for _, line := range lines {
			c, err := http.ParseSetCookie(line)
			if err != nil {
				panic(err)
			}
			sc := model.SetCookie{Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path,
				Secure: c.Secure, HTTPOnly: c.HttpOnly, Raw: line}
			switch c.SameSite {
			case http.SameSiteLaxMode:
				sc.SameSite = "Lax"
			case http.SameSiteStrictMode:
				sc.SameSite = "Strict"
			case http.SameSiteNoneMode:
				sc.SameSite = "None"
			}
			if !c.Expires.IsZero() {
				t := c.Expires.UTC()
				sc.Expires = &t
			}
			if c.MaxAge < 0 {
				zero := 0
				sc.MaxAge = &zero
			}
			x.SetCookies = append(x.SetCookies, sc)
		}
	}
}

// sent adds cookies the request carried.
func sent(pairs ...string) func(*model.Exchange) {
	return func(x *model.Exchange) {
		for _, p := range pairs {
			n, v, _ := strings.Cut(p, "=")
			x.CookiesSent = append(x.CookiesSent, model.SentCookie{Name: n, Value: v})
		}
	}
}

func referer(u string) func(*model.Exchange) {
	return func(x *model.Exchange) { x.RawReferer = u }
}

// ruleFindings runs AnalyzeExchanges and keeps one rule's findings.
func ruleFindings(xs []*model.Exchange, rule string) []model.Finding {
	var out []model.Finding
	for _, f := range AnalyzeExchanges(xs, AnalyzeOptions{}) {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func findingText(f model.Finding) string {
	return strings.Join(append([]string{f.Title, f.Detail, f.Fix, strings.Join(f.Exchanges, " ")}, f.Evidence...), "\n")
}

func TestCookieFlags(t *testing.T) {
	const phpID = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	tests := []struct {
		name     string
		xs       []*model.Exchange
		want     int // findings
		severity model.Severity
		count    int
		contains []string
		lacks    []string
	}{
		{name: "PHP defaults over https: no HttpOnly, Secure or SameSite", want: 1, severity: model.SeverityWarning, count: 2,
			xs: []*model.Exchange{
				exch("x1", 0, "GET", "https://shop.example.com/login.php", 200, setCookie("PHPSESSID="+phpID+"; path=/")),
				exch("x2", 1, "POST", "https://shop.example.com/login.php", 302, setCookie("PHPSESSID=a"+phpID[1:]+"; path=/")),
			},
			contains: []string{"Session cookie PHPSESSID is set without HttpOnly, Secure and SameSite", "document.cookie", "plain http",
				"Chrome treats it as Lax", "session_set_cookie_params(['httponly' => true, 'secure' => true, 'samesite' => 'Lax'])",
				"session.cookie_httponly = 1", "cookie: { httpOnly: true, secure: true, sameSite: 'lax' }", "trust proxy", "x1", "x2",
				"OWASP Session Management Cheat Sheet: Secure"},
			lacks: []string{phpID}},
		{name: "PHP on http://localhost: Secure would work there", want: 1, severity: model.SeverityInfo, count: 1,
			xs: []*model.Exchange{exch("x1", 0, "POST", "http://localhost:8080/login.php", 302,
				setCookie("PHPSESSID="+phpID+"; path=/; HttpOnly"))},
			contains: []string{"without Secure and SameSite", "except from localhost"},
			lacks:    []string{"httponly' => true"}},
		// express-session (and Rack) send no cookie at all when secure is set and the
		// request is plain http, localhost included: only SameSite is advice there.
		{name: "express on http://localhost: Secure would drop the cookie", want: 1, severity: model.SeverityInfo, count: 1,
			xs: []*model.Exchange{exch("x1", 0, "POST", "http://localhost:3000/login", 302,
				setCookie("connect.sid=s%3AxkVb2sV5m4o9ZkqG0rHn7Lw3JcQd1FtY.8Xh0bq1w1f2l9B5q9fKp7b0W6cXk0Zr2m1v3n4o5p6Q; Path=/; HttpOnly"))},
			contains: []string{"set without SameSite", "sameSite: 'lax'"},
			lacks:    []string{"Secure and", "except from localhost"}},
		{name: "plain http on a real host: serve https first", want: 1, severity: model.SeverityInfo,
			xs: []*model.Exchange{exch("x1", 0, "GET", "http://intranet.example.org/", 200,
				setCookie("sessionid=3k9m2n8b7v6c5x4z3a2s1d0f9g8h7j6k; Path=/; HttpOnly; SameSite=Lax"))},
			contains: []string{"cannot be yet", "Serve the site over https first"}},
		{name: "parent Domain shares the id with every subdomain", want: 1, severity: model.SeverityInfo,
			xs: []*model.Exchange{exch("x1", 0, "POST", "https://app.example.com/login", 302,
				setCookie("PHPSESSID="+phpID+"; Domain=.example.com; Path=/; Secure; HttpOnly; SameSite=Lax"))},
			contains: []string{"shared with every subdomain of example.com", "OWASP Session Management Cheat Sheet: Domain and Path", "'domain' => ''", "host-only"}},
		{name: "a parent Domain that the session needs: login. and app. share it", want: 0,
			xs: []*model.Exchange{
				exch("x1", 0, "POST", "https://login.example.com/signin", 302,
					setCookie("PHPSESSID="+phpID+"; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=Lax")),
				exch("x2", 1, "GET", "https://app.example.com/dashboard", 200, sent("PHPSESSID="+phpID)),
			}},
		{name: "one finding per host", want: 2,
			xs: []*model.Exchange{
				exch("x1", 0, "GET", "https://a.example.com/", 200, setCookie("PHPSESSID="+phpID+"; path=/; secure; samesite=Lax")),
				exch("x2", 1, "GET", "https://b.example.com/", 200, setCookie("PHPSESSID="+phpID+"; path=/; secure; samesite=Lax")),
			}},
		{name: "all flags set", want: 0,
			xs: []*model.Exchange{exch("x1", 0, "POST", "https://example.com/login", 302,
				setCookie("PHPSESSID="+phpID+"; Path=/; Secure; HttpOnly; SameSite=Lax"))}},
		{name: "Domain equal to the host is not a parent", want: 0,
			xs: []*model.Exchange{exch("x1", 0, "POST", "https://example.com/login", 302,
				setCookie("PHPSESSID="+phpID+"; Domain=example.com; Path=/; Secure; HttpOnly; SameSite=Strict"))}},
		{name: "a logout's deletion and other cookies do not count", want: 0,
			xs: []*model.Exchange{exch("x1", 0, "GET", "https://example.com/logout", 302,
				setCookie("PHPSESSID=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; path=/", "theme=dark; Path=/"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := ruleFindings(tc.xs, "cookie-flags")
			if len(fs) != tc.want {
				for _, f := range fs {
					t.Log(findingText(f))
				}
				t.Fatalf("%d cookie-flags findings, want %d", len(fs), tc.want)
			}
			if tc.want != 1 {
				return
			}
			f := fs[0]
			if tc.severity != "" && f.Severity != tc.severity {
				t.Errorf("severity %s, want %s", f.Severity, tc.severity)
			}
			if tc.count != 0 && f.Count != tc.count {
				t.Errorf("count %d, want %d", f.Count, tc.count)
			}
			text := findingText(f)
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("missing %q in\n%s", s, text)
				}
			}
			for _, s := range tc.lacks {
				if strings.Contains(text, s) {
					t.Errorf("%q in\n%s", s, text)
				}
			}
		})
	}
}
