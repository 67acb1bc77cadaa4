package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedactReachesURLs: a --redact name hides the values of URL parameters with that
// name, in the exchanges analyze prints, as the built-in names (token) always are.
func TestRedactReachesURLs(t *testing.T) {
	const har = `{"log":{"version":"1.2","creator":{"name":"test","version":"1"},"entries":[{
		"startedDateTime":"2026-12-07T10:00:00.000Z","time":5,
		"request":{"method":"GET","url":"http://shop.localhost/search?q=boots&city=Oslo&token=tk-91a7",
			"httpVersion":"HTTP/1.1","headers":[],"cookies":[],"queryString":[],"headersSize":-1,"bodySize":0},
		"response":{"status":302,"statusText":"Found","httpVersion":"HTTP/1.1",
			"headers":[{"name":"Location","value":"/results?city=Oslo&page=2"}],"cookies":[],
			"content":{"size":0,"mimeType":"text/html"},"redirectURL":"/results?city=Oslo&page=2","headersSize":-1,"bodySize":0},
		"timings":{"send":0,"wait":5,"receive":0}}]}}`
	path := filepath.Join(t.TempDir(), "search.har")
	if err := os.WriteFile(path, []byte(har), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		extra      []string
		wantOslo   bool
		wantHidden int // city=••• occurrences
	}{
		{"built-in names only", nil, true, 0},
		{"--redact city", []string{"--redact", "city"}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"analyze", "--json", "--exchanges"}, tc.extra...)
			if code := Main(append(args, path), env(nil), &out, &errOut); code > 1 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			got := out.String()
			if strings.Contains(got, "tk-91a7") {
				t.Errorf("the token's value is shown:\n%s", got)
			}
			if strings.Contains(got, "Oslo") != tc.wantOslo {
				t.Errorf("Oslo shown: %v, want %v:\n%s", !tc.wantOslo, tc.wantOslo, got)
			}
			if n := strings.Count(got, "city=•••"); n < tc.wantHidden || (tc.wantHidden == 0 && n > 0) {
				t.Errorf("city=••• appears %d times, want %d (URL and Location):\n%s", n, tc.wantHidden, got)
			}
		})
	}
}
