package diagnose

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestGoldenHARs holds every rule to what real Chromium did: the files in
// testdata/golden were captured through sessionscope's proxy from the test apps
// (go test ./internal/golden -run TestCapture -update), each broken scenario next to
// its fixed twin. A rule that stops firing on its scenario, or starts firing on a
// fixed twin, fails here.
func TestGoldenHARs(t *testing.T) {
	tests := []struct {
		file  string
		rules []string // the exact set of rule ids, sorted
		// loop names what the login-loop finding must say about its cause.
		loop []string
		// also are strings some finding must contain (title, detail or evidence).
		also []string
	}{
		{file: "loop_path.har", rules: []string{"cookie-not-sent", "login-loop"},
			loop: []string{"Root cause: cookie-not-sent (NotOnPath", "Path=/admin"}},
		{file: "loop_path_fixed.har", rules: []string{}},
		{file: "loop_domain_invalid.har", rules: []string{"cookie-rejected", "login-loop"},
			loop: []string{"Root cause: cookie-rejected (InvalidDomain", "Domain=localhost"}},
		{file: "loop_domain_invalid_fixed.har", rules: []string{}},
		{file: "loop_domain_mismatch.har", rules: []string{"cookie-not-sent", "login-loop"},
			loop: []string{"Root cause: cookie-not-sent (DomainMismatch", "host-only for login.shop.localhost but the request went to app.shop.localhost"}},
		{file: "loop_domain_mismatch_fixed.har", rules: []string{}},
		{file: "loop_domain_mismatch_parent.har", rules: []string{}},
		{file: "loop_secure_http.har", rules: []string{"cookie-rejected", "login-loop"},
			loop: []string{"Root cause: cookie-rejected (SecureOnly"}},
		{file: "loop_secure_downgrade.har", rules: []string{"cookie-not-sent", "cookie-rejected", "login-loop"},
			loop: []string{"cookie-not-sent (SecureOnly", "is Secure but the request went over plain http"}},
		{file: "loop_secure_fixed.har", rules: []string{}},
		{file: "sid_in_url.har", rules: []string{"session-id-in-url"},
			also: []string{"query parameter PHPSESSID", "/help.php", "Session id leaked in the Referer to 127.0.0.1"}},
		{file: "sid_in_url_fixed.har", rules: []string{}},
		{file: "cookie_flags.har", rules: []string{"cookie-flags"},
			also: []string{"Session cookie PHPSESSID is set without HttpOnly, Secure and SameSite"}},
		{file: "cookie_flags_fixed.har", rules: []string{}},
		{file: "sensitive_data_in_cookie.har", rules: []string{"sensitive-data-in-cookie"},
			also: []string{"Cookie profile carries roles and is_admin", "base64 → JSON"}},
		{file: "sensitive_data_in_cookie_fixed.har", rules: []string{}},
		{file: "header_injection.har", rules: []string{"header-injection"},
			also: []string{"injected Set-Cookie: sessionID="}},
		{file: "header_injection_fixed.har", rules: []string{}},
		{file: "weak_session_id.har", rules: []string{"weak-session-id"},
			also: []string{"110 distinct PHPSESSID session ids", "22 characters of hex", "at most 88 bits"}},
		{file: "weak_session_id_fixed.har", rules: []string{}},
		{file: "express_login.har", rules: []string{"cookie-flags"},
			also: []string{"Session cookie connect.sid is set without SameSite"}},
	}
	files, err := filepath.Glob("testdata/golden/*.har")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.file] = true
	}
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("%s has no row in TestGoldenHARs: say which rules it must yield", f)
		}
	}
	for _, tc := range tests {
		t.Run(strings.TrimSuffix(tc.file, ".har"), func(t *testing.T) {
			xs, sum := readHAR(t, "golden/"+tc.file)
			if sum.Creator == "" || !strings.HasPrefix(sum.Creator, "sessionscope") || sum.ValuesStripped || sum.CookiesAbsent {
				t.Fatalf("not a sessionscope capture with cookie values: %+v", sum)
			}
			fs := AnalyzeExchanges(xs, AnalyzeOptions{ValuesStripped: sum.ValuesStripped, CookiesAbsent: sum.CookiesAbsent})
			got := []string{}
			for _, f := range fs {
				if !slices.Contains(got, f.Rule) {
					got = append(got, f.Rule)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.rules) {
				for _, f := range fs {
					t.Logf("%s %s: %s | %s", f.Rule, f.Severity, f.Title, strings.Join(f.Evidence, " | "))
				}
				t.Fatalf("rules %v, want %v", got, tc.rules)
			}
			text := func(f model.Finding) string {
				return strings.Join(append([]string{f.Title, f.Detail, f.Fix}, f.Evidence...), "\n")
			}
			var all []string
			for _, f := range fs {
				all = append(all, text(f))
				if f.Rule != "login-loop" {
					continue
				}
				for _, s := range tc.loop {
					if !strings.Contains(f.Detail, s) {
						t.Errorf("login-loop detail lacks %q:\n%s", s, f.Detail)
					}
				}
			}
			for _, s := range tc.also {
				if !strings.Contains(strings.Join(all, "\n"), s) {
					t.Errorf("no finding says %q", s)
				}
			}
		})
	}
}
