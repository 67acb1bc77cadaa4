package traffic

import (
	"net/http"
	"testing"
)

// FuzzBodyScan: the streaming scan never panics and finds a password input and a
// client-side redirect however the body is cut into writes, exactly when a scan of
// the whole prefix does.
func FuzzBodyScan(f *testing.F) {
	for _, seed := range []string{`<input type="password">`, `<INPUT TYPE=PASSWORD>`, `<input type='password'`, `type=pass`, ``, "\x00\xff<input",
		`<meta http-equiv=refresh content=0>`, `<script>location.href="/x"</script>`} {
		f.Add([]byte(seed), uint16(3))
	}
	html := http.Header{"Content-Type": {"text/html"}}
	f.Fuzz(func(t *testing.T, body []byte, cut uint16) {
		var whole, split bodyScan
		whole.write(html, body)
		n := int(cut)%(len(body)+1) + 0
		split.write(html, body[:n])
		split.write(html, body[n:])
		if whole.loginForm != split.loginForm || whole.clientRedirect != split.clientRedirect {
			t.Fatalf("whole %v/%v, cut at %d %v/%v", whole.loginForm, whole.clientRedirect, n, split.loginForm, split.clientRedirect)
		}
	})
}
