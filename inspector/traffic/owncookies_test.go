package traffic

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestWithoutOwnCookies(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"none of ours", []string{"PHPSESSID=abc; theme=dark"}, []string{"PHPSESSID=abc; theme=dark"}},
		{"dashboard cookie in the middle", []string{"a=1; sessionscope_auth_7070=tok; b=2"}, []string{"a=1; b=2"}},
		{"host-prefixed and sticky", []string{"__Host-sessionscope_auth=tok; sessionscope_upstream=1; a=1"}, []string{"a=1"}},
		{"secure-prefixed", []string{"__Secure-sessionscope_x=1;a=1"}, []string{"a=1"}},
		{"only ours: header dropped", []string{"sessionscope_auth_7070=tok"}, nil},
		{"two lines, one emptied", []string{"sessionscope_auth_1=x", "a=1"}, []string{"a=1"}},
		{"value that mentions us stays", []string{"app=sessionscope_auth_1"}, []string{"app=sessionscope_auth_1"}},
		{"look-alike name stays", []string{"my_sessionscope_auth=1"}, []string{"my_sessionscope_auth=1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := withoutOwnCookies(tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("withoutOwnCookies(%q) = %q, want %q", tc.in, got, tc.want)
			}
			h := http.Header{"Cookie": slices.Clone(tc.in)}
			stripOwnCookies(h)
			if got := h.Values("Cookie"); !slices.Equal(got, tc.want) {
				t.Errorf("stripOwnCookies left %q, want %q", got, tc.want)
			}
			if _, ok := h["Cookie"]; ok != (tc.want != nil) {
				t.Errorf("Cookie header present %v, want %v", ok, tc.want != nil)
			}
		})
	}
}

// TestProxyStripsOwnCookies sends the dashboard's login cookie through the proxy, as a
// browser does (cookies ignore the port): the app must not receive it, and neither the
// recorded exchange nor the HAR written from it may hold it.
func TestProxyStripsOwnCookies(t *testing.T) {
	const secret = "dashboard-token-value-0123456789"
	var mu sync.Mutex
	var received [][]string // Cookie header lines per request, as the app got them
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received = append(received, r.Header.Values("Cookie"))
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	var har bytes.Buffer
	hw, err := NewHARWriter(&har, HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, pu, ch := startProxy(t, ProxyConfig{Sticky: true, Sink: func(x *model.Exchange) { _ = hw.Add(x) }}, up)

	c := client()
	get(t, c, pu+"/mixed", map[string]string{"Cookie": "PHPSESSID=app1; sessionscope_auth_7070=" + secret + "; theme=dark"})
	get(t, c, pu+"/only-ours", map[string]string{"Cookie": "sessionscope_auth_7070=" + secret + "; __Host-sessionscope_auth=" + secret})
	x1, x2 := next(t, ch), next(t, ch)
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(received) != 2 {
		t.Fatalf("app got %d requests, want 2", len(received))
	}
	if got := received[0]; !slices.Equal(got, []string{"PHPSESSID=app1; theme=dark"}) {
		t.Errorf("app's Cookie header %q, want the app's own cookies only", got)
	}
	if got := received[1]; got != nil {
		t.Errorf("app's Cookie header %q, want none", got)
	}
	names := func(x *model.Exchange) (out []string) {
		for _, c := range x.CookiesSent {
			out = append(out, c.Name)
		}
		return out
	}
	if got := names(x1); !slices.Equal(got, []string{"PHPSESSID", "theme"}) {
		t.Errorf("exchange 1 cookies_sent %q, want PHPSESSID, theme", got)
	}
	if got := names(x2); got != nil {
		t.Errorf("exchange 2 cookies_sent %q, want none", got)
	}
	if strings.Contains(har.String(), secret) || strings.Contains(har.String(), "sessionscope_auth") {
		t.Errorf("the HAR holds the dashboard cookie:\n%s", har.String())
	}
	if !strings.Contains(har.String(), "PHPSESSID=app1") {
		t.Errorf("the HAR lost the app's cookie:\n%s", har.String())
	}
}

// TestHARWriterSkipsOwnCookies covers exchanges that did not come through the proxy
// (a HAR read from elsewhere, written out again).
func TestHARWriterSkipsOwnCookies(t *testing.T) {
	var har bytes.Buffer
	hw, err := NewHARWriter(&har, HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := &model.Exchange{ID: "h1", Method: "GET", RawURL: "http://127.0.0.1:8080/", Status: 200,
		CookiesSent: []model.SentCookie{{Name: "sessionscope_auth_7070", Value: "tok"}, {Name: "sid", Value: "v"}}}
	if err := hw.Add(x); err != nil {
		t.Fatal(err)
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(har.String(), "sessionscope_auth") || !strings.Contains(har.String(), `"sid=v"`) {
		t.Errorf("HAR should keep sid and drop the dashboard cookie:\n%s", har.String())
	}
}
