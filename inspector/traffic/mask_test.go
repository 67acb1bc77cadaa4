package traffic

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// secretQuery carries a bearer token, a password and a password-reset token: none of
// their values may appear in an exchange as shown or sent.
const secretQuery = "access_token=eyJhbGciOiJIUzI1NiJ9.c2VjcmV0&password=Pa55-w0rd-SECRET-42&reset=7f3c9a1b2d4e&page=2"

var secretValues = []string{"eyJhbGciOiJIUzI1NiJ9", "c2VjcmV0", "Pa55", "w0rd", "SECRET-42", "7f3c9a1b2d4e", "7f3c", "2d4e"}

func TestMaskURLSensitiveParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"/login?" + secretQuery, "/login?access_token=•••&password=•••&reset=•••&page=2"},
		{"/x?apiKey=k-123&API-KEY=k-456&api_key=k-789", "/x?apiKey=•••&API-KEY=•••&api_key=•••"},
		{"/x?client_secret=abc&otp=123456&pin=0000&preset=dark", "/x?client_secret=•••&otp=•••&pin=•••&preset=dark"},
		{"/x?Password=a%26b&q=go", "/x?Password=•••&q=go"},
		{"/cart;jsessionid=0123456789ABCDEF;password=hunter2/items", "/cart;jsessionid=0123…EF;password=•••/items"},
		{"/x?password=", "/x?password="},
		{"/x?page=2#password=frag", "/x?page=2#password=frag"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := MaskURL(tc.in, nil, model.Redaction{}); got != tc.want {
				t.Errorf("MaskURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestProxyMasksSensitiveParams sends a request with secrets in its query and its
// redirect through the proxy: the exchange's JSON (what the API, the websocket and
// watch --json send) holds none of them, and the upstream still got them.
func TestProxyMasksSensitiveParams(t *testing.T) {
	t.Parallel()
	upstreamQuery := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamQuery <- r.URL.RawQuery
		http.Redirect(w, r, "/next?"+secretQuery, http.StatusFound)
	}))
	defer up.Close()
	got := make(chan *model.Exchange, 1)
	p, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{mustURL(t, up.URL)}, Sink: func(x *model.Exchange) { got <- x }, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(srv.URL + "/login?" + secretQuery)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if q := <-upstreamQuery; q != secretQuery {
		t.Errorf("upstream got %q, want the query unchanged", q)
	}
	x := <-got
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range secretValues {
		if strings.Contains(string(b), v) {
			t.Errorf("exchange JSON holds %q: %s", v, b)
		}
	}
	if !strings.Contains(x.URL, "password=•••") || !strings.Contains(x.Location, "access_token=•••") || !strings.Contains(x.URL, "page=2") {
		t.Errorf("url %q location %q", x.URL, x.Location)
	}
}

// TestMaskURLRedactNames: --redact names hide URL parameters as the built-in ones do,
// whatever their case or separators.
func TestMaskURLRedactNames(t *testing.T) {
	t.Parallel()
	r := model.NewRedaction([]string{"city", "mother maiden"})
	in := "/x?City=Oslo&mother_maiden=Berg&page=2"
	if got, want := MaskURL(in, nil, r), "/x?City=•••&mother_maiden=•••&page=2"; got != want {
		t.Errorf("MaskURL with --redact city,'mother maiden' = %q, want %q", got, want)
	}
	if got := MaskURL(in, nil, model.Redaction{}); got != in {
		t.Errorf("MaskURL without --redact = %q, want it unchanged", got)
	}
}
