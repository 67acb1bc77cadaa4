package traffic

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func TestMayCarryCRLF(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"lang=en", false},
		{"q=100%25&x=%0", false},
		{"a=%20b%2F%3D", false},
		{"lang=en%0d%0aSet-Cookie:x", true},
		{"lang=en%0A", true},
		{"next=%250D%250A", true},
		{"next=%2525250a", true},
		{"/path\r\nX: y", true},
		{"%0", false},
		{"%", false},
	}
	for _, tc := range tests {
		if got := mayCarryCRLF(tc.in); got != tc.want {
			t.Errorf("mayCarryCRLF(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCRLFPayloads(t *testing.T) {
	tests := []struct {
		name string
		urls []string
		want []string
	}{
		{"CRLF in a redirect parameter", []string{"/login?next_page=login%0d%0aSet-Cookie:%20sessionID=12345678&x=1"}, []string{"Set-Cookie: sessionID=12345678"}},
		{"double-encoded", []string{"/lang?l=en%250d%250aX-Injected:%20yes"}, []string{"X-Injected: yes"}},
		{"plus is a space in the query", []string{"/?a=b%0aLocation:+https://evil.example/"}, []string{"Location: https://evil.example/"}},
		{"in the path", []string{"/redirect/%0d%0aSet-Cookie:%20a=b"}, []string{"Set-Cookie: a=b"}},
		{"two headers", []string{"/?a=x%0d%0aA:%201%0d%0aB:%202"}, []string{"A: 1", "B: 2"}},
		{"in the Referer", []string{"/ok", "https://evil.example/?r=%0d%0aSet-Cookie:%20s=1"}, []string{"Set-Cookie: s=1"}},
		{"none", []string{"/login?next=%2Fdashboard", "https://example.com/"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := crlfPayloads(tc.urls...); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// rawUpstream answers like an application that copies ?lang= into a Location header
// without removing CR and LF (decoding it once more when twice is set), writing the
// response by hand since Go's own server would neutralise them.
func rawUpstream(t *testing.T, twice bool) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := r.URL.Query().Get("lang")
		if twice {
			lang, _ = url.QueryUnescape(lang)
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 302 Found\r\nLocation: /home?lang=" + lang + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		brw.Flush()
	}))
}

func TestProxyRecordsInjectedHeaders(t *testing.T) {
	raw, raw2 := rawUpstream(t, false), rawUpstream(t, true)
	defer raw.Close()
	defer raw2.Close()
	safe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http turns CR/LF in a header value into spaces: no split.
		w.Header().Set("Location", "/home?lang="+r.URL.Query().Get("lang"))
		w.WriteHeader(http.StatusFound)
	}))
	defer safe.Close()
	const evil = "/set?lang=en%0d%0aSet-Cookie:%20PHPSESSID=attackerchosen0123456789"
	tests := []struct {
		name     string
		upstream *httptest.Server
		path     string
		hdr      map[string]string
		want     []string
	}{
		{"split", raw, evil, nil, []string{"Set-Cookie: PHPSESSID=atta…89"}},
		{"double-encoded, decoded once by the app: no split", raw, "/set?lang=en%250d%250aX-Debug:%20injected", nil, nil},
		{"double-encoded, decoded twice by the app", raw2, "/set?lang=en%250d%250aX-Debug:%2520injected", nil, []string{"X-Debug: injected"}},
		{"neutralised by the upstream", safe, evil, nil, nil},
		{"clean", raw, "/set?lang=en", map[string]string{"Referer": "http://example.com/?PHPSESSID=abc"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, base, ch := startProxy(t, ProxyConfig{}, tc.upstream)
			res, _ := get(t, client(), base+tc.path, tc.hdr)
			x := next(t, ch)
			if !slices.Equal(x.InjectedHeaders, tc.want) {
				t.Errorf("InjectedHeaders %q, want %q (response headers %v)", x.InjectedHeaders, tc.want, res.Header)
			}
			if ref := tc.hdr["Referer"]; x.RawReferer != ref {
				t.Errorf("RawReferer %q, want %q", x.RawReferer, ref)
			}
			b, _ := json.Marshal(x)
			if strings.Contains(string(b), "attackerchosen") && !strings.Contains(x.URL, "attackerchosen") {
				t.Errorf("the injected id leaked into JSON: %s", b)
			}
		})
	}
}

func TestInjectedHeadersMasking(t *testing.T) {
	lines := []headerLine{
		{"Set-Cookie", "PHPSESSID=attackerchosen0123456789; path=/"},
		{"Location", "/home?lang=en"},
		{"X-Injected", "yes"},
		{"Set-Cookie", "theme=dark"},
	}
	got := injectedHeaders([]string{"Set-Cookie: PHPSESSID=attackerchosen0123456789", "X-Injected: yes", "Set-Cookie: theme=dark", "no colon", "Location:"},
		lines, defaultMapping(nil), model.Redaction{})
	want := []string{"Set-Cookie: PHPSESSID=atta…89; path=/", "Set-Cookie: theme=dark", "X-Injected: yes"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadHARInjection(t *testing.T) {
	har := `{"log":{"version":"1.2","creator":{"name":"Firefox","version":"133"},"entries":[
	{"startedDateTime":"2026-03-14T09:26:10.000Z","time":1,
	 "request":{"method":"GET","url":"https://bank.example.com/login?next_page=login%0D%0ASet-Cookie:%20sessionID=12345678",
	  "headers":[{"name":"Referer","value":"https://bank.example.com/?PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9"}]},
	 "response":{"status":302,"headers":[{"name":"Location","value":"login"},{"name":"Set-Cookie","value":"sessionID=12345678"}]}},
	{"startedDateTime":"2026-03-14T09:26:11.000Z","time":1,
	 "request":{"method":"GET","url":"https://bank.example.com/go","headers":[]},
	 "response":{"status":302,"headers":[{"name":"Location","value":"/home\r\nSet-Cookie: sessionID=1"}]}},
	{"startedDateTime":"2026-03-14T09:26:12.000Z","time":1,
	 "request":{"method":"GET","url":"https://bank.example.com/ok","headers":[]},
	 "response":{"status":200,"headers":[{"name":"Set-Cookie","value":"a=1; Path=/\nb=2; Path=/"},{"name":"Link","value":"</a.css>; rel=preload\n</b.js>; rel=preload"}]}}
	]}}`
	var xs []*model.Exchange
	if _, err := ReadHAR(strings.NewReader(har), HAROptions{IDPrefix: "h-"}, func(x *model.Exchange) error {
		xs = append(xs, x)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"Set-Cookie: sessionID=…"}, {`Location: /home\r\nSet-Cookie: sessionID=1`}, nil}
	for i, x := range xs {
		if !slices.Equal(x.InjectedHeaders, want[i]) {
			t.Errorf("entry %d: InjectedHeaders %q, want %q", i, x.InjectedHeaders, want[i])
		}
	}
	if xs[0].RawReferer != "https://bank.example.com/?PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9" || xs[1].RawReferer != "" {
		t.Errorf("RawReferer %q, %q", xs[0].RawReferer, xs[1].RawReferer)
	}
}

// The gate that keeps the check off the proxy's hot path must not allocate.
func TestRequestMayInjectDoesNotAllocate(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.com/a/b?x=1&y=%2F", nil)
	r.Header.Set("Referer", "http://example.com/")
	if n := testing.AllocsPerRun(100, func() { requestMayInject(r) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
