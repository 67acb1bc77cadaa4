package traffic

import (
	"net/http"
	"testing"
)

// FuzzLoginFormScan: the streaming scan never panics and finds a password input
// however the body is cut into writes, exactly when a scan of the whole prefix does.
func FuzzLoginFormScan(f *testing.F) {
	for _, seed := range []string{`<input type="password">`, `<INPUT TYPE=PASSWORD>`, `<input type='password'`, `type=pass`, ``, "\x00\xff<input"} {
		f.Add([]byte(seed), uint16(3))
	}
	html := http.Header{"Content-Type": {"text/html"}}
	f.Fuzz(func(t *testing.T, body []byte, cut uint16) {
		var whole, split loginFormScan
		whole.write(html, body)
		n := int(cut)%(len(body)+1) + 0
		split.write(html, body[:n])
		split.write(html, body[n:])
		if whole.found != split.found {
			t.Fatalf("whole %v, cut at %d %v", whole.found, n, split.found)
		}
	})
}
