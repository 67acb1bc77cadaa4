package diagnose

import (
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
)

// TestFindingsMaskSecretParams: a URL whose query holds a session id next to an access
// token, a password and a reset token fires session-id-in-url (in the request and in
// the Referer), and no finding's text holds any of those values.
func TestFindingsMaskSecretParams(t *testing.T) {
	t.Parallel()
	const secrets = "access_token=eyJhbGciOiJIUzI1NiJ9.c2VjcmV0&password=Pa55-w0rd-SECRET-42&reset=7f3c9a1b2d4e"
	const sid = "q3hgl8v5c0m2k7ut3ohs1f2km9"
	reqURL := "http://shop.test/account?PHPSESSID=" + sid + "&" + secrets
	x1 := exch("x1", 0, "GET", reqURL, 200, sent("PHPSESSID="+sid))
	x1.URL = traffic.MaskURL(x1.RawURL, nil, model.Redaction{}) // as the proxy and the HAR reader record it
	x2 := exch("x2", 1, "GET", "https://cdn.other.test/pixel.gif", 200, referer(reqURL))
	x2.URL = traffic.MaskURL(x2.RawURL, nil, model.Redaction{})
	fs := AnalyzeExchanges([]*model.Exchange{x1, x2}, AnalyzeOptions{})
	var fired []string
	all := ""
	for _, f := range fs {
		fired = append(fired, f.Rule)
		txt := findingText(f)
		all += txt
		for _, v := range []string{"eyJhbGciOiJIUzI1NiJ9", "c2VjcmV0", "Pa55", "SECRET-42", "7f3c9a1b2d4e", sid} {
			if strings.Contains(txt, v) {
				t.Errorf("%s finding holds %q:\n%s", f.Rule, v, txt)
			}
		}
	}
	if !strings.Contains(strings.Join(fired, " "), "session-id-in-url") || !strings.Contains(all, "Referer") ||
		!strings.Contains(all, "password=•••") {
		t.Fatalf("rules %q, want session-id-in-url for the request and the Referer with the password hidden:\n%s", fired, all)
	}
}
