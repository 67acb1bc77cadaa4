package diagnose

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
)

func readHAR(t *testing.T, name string) ([]*model.Exchange, traffic.HARSummary) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var xs []*model.Exchange
	sum, err := traffic.ReadHAR(f, traffic.HAROptions{Mapping: framework.RefMapper(nil), IDPrefix: "x"},
		func(x *model.Exchange) error { xs = append(xs, x); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return xs, sum
}

func TestAnalyzeExchanges(t *testing.T) {
	type want struct {
		rule     string
		severity model.Severity
		contains []string // in title, detail, fix or evidence
	}
	tests := []struct {
		name string
		file string
		want []want
	}{
		{name: "Path=/admin cookie not sent to /dashboard", file: "loop_path.har", want: []want{
			{"cookie-not-sent", model.SeverityError, []string{"NotOnPath", "Path=/admin", "/dashboard", "session_set_cookie_params(['path' => '/'])", "cookie: { path: '/' }", "x3"}},
			{"login-loop", model.SeverityError, []string{"Root cause: cookie-not-sent (NotOnPath: PHPSESSID", "has Path=/admin but the request went to /dashboard)", "[finding cookie-not-sent-", "x2", "(2 time(s) here)", "answered \"not logged in\" again: a redirect to the login page"}},
		}},
		{name: "Domain=app.example.com from example.com", file: "loop_domain.har", want: []want{
			{"cookie-rejected", model.SeverityError, []string{"InvalidDomain", "Domain=app.example.com", "example.com", "session_set_cookie_params(['domain' => ''])", "express-session", "x2"}},
			{"login-loop", model.SeverityError, []string{"Root cause: cookie-rejected (InvalidDomain: PHPSESSID has Domain=app.example.com", "[finding cookie-rejected-"}},
		}},
		{name: "cookie kept and sent, loop anyway", file: "loop_store.har", want: []want{
			{"login-loop", model.SeverityError, []string{"not visible from the HTTP side", "stale read", "session_write_close()", "req.session.save"}},
		}},
		{name: "sanitized HAR", file: "loop_sanitized.har", want: []want{
			{"login-loop", model.SeverityError, []string{"cause cannot be told"}},
			{"sanitized-har", model.SeverityInfo, []string{"not reached: whether the browser rejected"}},
		}},
		{name: "session id in the query string", file: "sid_in_url.har", want: []want{
			{"session-id-in-url", model.SeverityWarning, []string{"PHPSESSID", "query parameter PHPSESSID", "session.use_only_cookies", "x3", "a1b2…a3"}},
		}},
		{name: "fixed twin", file: "fixed.har"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			xs, sum := readHAR(t, tc.file)
			fs := AnalyzeExchanges(xs, AnalyzeOptions{ValuesStripped: sum.ValuesStripped, CookiesAbsent: sum.CookiesAbsent})
			if len(fs) != len(tc.want) {
				for _, f := range fs {
					t.Logf("%s %s: %s | %v", f.Rule, f.Title, f.Detail, f.Evidence)
				}
				t.Fatalf("got %d findings, want %d", len(fs), len(tc.want))
			}
			for _, w := range tc.want {
				var f *model.Finding
				for i := range fs {
					if fs[i].Rule == w.rule {
						f = &fs[i]
					}
				}
				if f == nil {
					t.Fatalf("no %s finding", w.rule)
				}
				if f.Severity != w.severity {
					t.Errorf("%s: severity %s, want %s", w.rule, f.Severity, w.severity)
				}
				all := strings.Join(append([]string{f.Title, f.Detail, f.Fix, strings.Join(f.Exchanges, " ")}, f.Evidence...), "\n")
				for _, s := range w.contains {
					if !strings.Contains(all, s) {
						t.Errorf("%s: missing %q in\n%s", w.rule, s, all)
					}
				}
			}
		})
	}
}

func TestAnalyzeExchangesAnnotatesVerdicts(t *testing.T) {
	xs, _ := readHAR(t, "loop_domain.har")
	AnalyzeExchanges(xs, AnalyzeOptions{})
	sc := xs[2].SetCookies[0]
	if sc.Stored == nil || *sc.Stored || sc.Reason != "InvalidDomain" {
		t.Fatalf("verdict not annotated: %+v", sc)
	}
}

// A finding about an id in a URL must not repeat the id.
func TestSessionIDInURLDoesNotLeakTheID(t *testing.T) {
	xs, _ := readHAR(t, "sid_in_url.har")
	for _, f := range AnalyzeExchanges(xs, AnalyzeOptions{}) {
		text := f.Title + f.Detail + f.Fix + strings.Join(f.Evidence, "\n")
		if strings.Contains(text, "a1b2c3d4e5f6a7b8c9d0e1f2a3") {
			t.Errorf("%s finding contains the full session id: %s", f.Rule, text)
		}
	}
}

// TestFreshSessionLoopNeedsOneBrowser: many one-page visitors each get a new session,
// which is not a loop; one browser handed a new session although it sent its cookie is.
func TestFreshSessionLoopNeedsOneBrowser(t *testing.T) {
	t0 := mustParseTime(t, "2026-11-22T10:00:00Z")
	visit := func(i int, sendPrev bool) *model.Exchange {
		x := &model.Exchange{ID: "v" + strconv.Itoa(i), Method: "GET", RawURL: "http://app.test/page", URL: "http://app.test/page",
			Status: 200, Start: t0.Add(time.Duration(i) * time.Second)}
		x.End = x.Start.Add(10 * time.Millisecond)
		val := fmt.Sprintf("sess%024d", i)
		line := "PHPSESSID=" + val + "; Path=/; HttpOnly; SameSite=Lax"
		x.SetCookies = []model.SetCookie{{Name: "PHPSESSID", Value: val, Path: "/", Raw: line}}
		if sendPrev && i > 0 {
			x.CookiesSent = []model.SentCookie{{Name: "PHPSESSID", Value: fmt.Sprintf("sess%024d", i-1)}}
		}
		return x
	}
	var visitors, ignored []*model.Exchange
	for i := 0; i < 6; i++ {
		visitors = append(visitors, visit(i, false))
		ignored = append(ignored, visit(i, true))
	}
	if fs := AnalyzeExchanges(visitors, AnalyzeOptions{}); hasRule(fs, "login-loop") {
		t.Fatalf("six one-page visitors reported as a login loop")
	}
	if fs := AnalyzeExchanges(ignored, AnalyzeOptions{}); !hasRule(fs, "login-loop") {
		t.Fatalf("a browser handed a fresh session on every page although it sent its cookie: no login-loop (%v)", fs)
	}
}

func hasRule(fs []model.Finding, rule string) bool {
	for _, f := range fs {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func mustParseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
