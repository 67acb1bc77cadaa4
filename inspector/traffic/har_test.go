package traffic

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

func readHARFile(t *testing.T, name string) ([]*model.Exchange, HARSummary) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var xs []*model.Exchange
	sum, err := ReadHAR(f, HAROptions{IDPrefix: "h-"}, func(x *model.Exchange) error {
		xs = append(xs, x)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadHAR(%s): %v", name, err)
	}
	return xs, sum
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestReadHARChrome(t *testing.T) {
	xs, sum := readHARFile(t, "chrome_login.har")
	if sum.Entries != 5 || len(xs) != 5 || sum.Creator != "WebInspector 537.36" || sum.ValuesStripped || sum.CookiesAbsent {
		t.Fatalf("summary %+v, %d exchanges", sum, len(xs))
	}
	if sum.BodyBytesSkipped == 0 {
		t.Error("no body bytes skipped")
	}
	oldRef, newRef := model.Ref("q3hgl8v5c0m2k7ut3ohs1f2km9"), model.Ref("7sd9f8g7h6j5k4l3m2n1b0v9c8")

	get := xs[0]
	start := mustTime("2025-03-14T09:26:53.118Z")
	if !get.Start.Equal(start) || get.ID != "h-0" || get.Source != model.SourceHAR || get.Type != model.TypeExchange {
		t.Errorf("first exchange %+v", get)
	}
	// headers_sent = start + blocked+dns+connect+send+wait (ssl is inside connect).
	if want := start.Add(time.Duration((3.113 + 0.012 + 24.5 + 0.288 + 41.7) * float64(time.Millisecond))); get.HeadersSent.Sub(want).Abs() > time.Microsecond {
		t.Errorf("headers_sent %v, want %v", get.HeadersSent, want)
	}
	if want := start.Add(time.Duration(71.513 * float64(time.Millisecond))); get.End.Sub(want).Abs() > time.Microsecond {
		t.Errorf("end %v, want %v", get.End, want)
	}
	if !strings.Contains(get.Client.UA, "Chrome/131") || get.Upstream != "203.0.113.7" || get.Status != 200 {
		t.Errorf("client/upstream/status: %+v %q %d", get.Client, get.Upstream, get.Status)
	}
	if len(get.SetCookies) != 1 {
		t.Fatalf("set cookies %+v", get.SetCookies)
	}
	sc := get.SetCookies[0]
	if sc.Name != "PHPSESSID" || !sc.Secure || !sc.HTTPOnly || sc.SameSite != "Lax" || sc.Path != "/" || sc.SessionRef != oldRef || sc.MaxAge != nil || sc.Expires != nil {
		t.Errorf("set cookie %+v", sc)
	}

	post := xs[1]
	if post.Status != 302 || post.Location != "/account" || post.SessionRef != oldRef {
		t.Errorf("post: status %d location %q session %q", post.Status, post.Location, post.SessionRef)
	}
	if len(post.CookiesSent) != 2 || post.CookiesSent[0].SessionRef != oldRef || post.CookiesSent[1].Name != "theme" || post.CookiesSent[1].SessionRef != "" {
		t.Errorf("cookies sent %+v", post.CookiesSent)
	}
	if len(post.SetCookies) != 2 || post.SetCookies[0].SessionRef != newRef || post.SetCookies[1].MaxAge == nil || *post.SetCookies[1].MaxAge != 0 {
		t.Errorf("newline-joined set-cookie: %+v", post.SetCookies)
	}
	if post.ValuesStripped {
		t.Error("a deletion cookie counted as stripped")
	}

	if xs[2].SessionRef != newRef || !strings.HasSuffix(xs[2].URL, "/account?tab=orders") {
		t.Errorf("account: %q %q", xs[2].SessionRef, xs[2].URL)
	}
	// A session id in the URL is masked, and the raw one kept internally.
	if got, want := xs[3].URL, "https://shop.example.test/legacy/cart.php?PHPSESSID=7sd9…c8&item=42"; got != want {
		t.Errorf("url %q, want %q", got, want)
	}
	if !strings.Contains(xs[3].RawURL, "7sd9f8g7h6j5k4l3m2n1b0v9c8") {
		t.Errorf("raw url %q", xs[3].RawURL)
	}
	if xs[4].Status != 0 || xs[4].Error != "net::ERR_BLOCKED_BY_CLIENT" || !xs[4].End.Equal(xs[4].Start) {
		t.Errorf("failed entry %+v", xs[4])
	}

	// No cookie value reaches JSON.
	for _, x := range xs {
		b, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"q3hgl8v5c0m2k7ut3ohs1f2km9", "7sd9f8g7h6j5k4l3m2n1b0v9c8", "dark"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s: JSON carries a cookie value: %s", x.ID, b)
			}
		}
	}
}

func TestReadHARFirefox(t *testing.T) {
	xs, sum := readHARFile(t, "firefox_login.har")
	if sum.Entries != 2 || sum.Creator != "Firefox 133.0" || sum.Browser != "Firefox 133.0" {
		t.Fatalf("summary %+v", sum)
	}
	ref := model.Ref("J3x1oS0nVvN4hD2GxH9QK7c8aR5tYwZb")
	if xs[0].SetCookies[0].SessionRef != ref || xs[0].SetCookies[0].SameSite != "Strict" || xs[0].SetCookies[0].Expires == nil {
		t.Errorf("set cookie %+v", xs[0].SetCookies[0])
	}
	if !xs[0].Start.Equal(mustTime("2025-03-14T09:40:01.250Z")) {
		t.Errorf("start %v: offset not honoured", xs[0].Start)
	}
	if xs[1].SessionRef != ref || xs[1].Location != "/home" || xs[1].SetCookies[0].SessionRef != model.Ref("newSessionId0123456789abcdef") {
		t.Errorf("post %+v", xs[1])
	}
	if want := xs[1].Start.Add(31 * time.Millisecond); !xs[1].HeadersSent.Equal(want) || !xs[1].End.Equal(want) {
		t.Errorf("times %v %v, want %v", xs[1].HeadersSent, xs[1].End, want)
	}
}

func TestReadHARSanitized(t *testing.T) {
	cases := []struct {
		file          string
		stripped      int
		cookiesAbsent bool
	}{
		// Chrome's sanitized export drops Cookie and Set-Cookie headers; here the
		// cookie arrays remain with their values emptied.
		{"chrome_sanitized.har", 3, false},
		{"firefox_redacted.har", 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			xs, sum := readHARFile(t, tc.file)
			if len(xs) == 0 || sum.StrippedExchanges != tc.stripped || !sum.ValuesStripped || sum.CookiesAbsent != tc.cookiesAbsent {
				t.Fatalf("summary %+v", sum)
			}
			for _, x := range xs {
				if x.SessionRef != "" {
					t.Errorf("%s: session ref %q from a stripped value", x.ID, x.SessionRef)
				}
				if (len(x.CookiesSent) > 0 || len(x.SetCookies) > 0) && !x.ValuesStripped {
					t.Errorf("%s: cookies present but not marked stripped", x.ID)
				}
			}
		})
	}
	t.Run("headers and cookies dropped entirely", func(t *testing.T) {
		har := `{"log":{"entries":[{"startedDateTime":"2025-01-01T00:00:00Z","time":5,"request":{"method":"GET","url":"https://a.test/","headers":[],"cookies":[]},"response":{"status":200,"headers":[],"cookies":[]}}]}}`
		sum, err := ReadHAR(strings.NewReader(har), HAROptions{}, func(*model.Exchange) error { return nil })
		if err != nil || !sum.CookiesAbsent || sum.Entries != 1 {
			t.Fatalf("%+v %v", sum, err)
		}
	})
}

func TestReadHARErrors(t *testing.T) {
	chrome, err := os.ReadFile("testdata/chrome_login.har")
	if err != nil {
		t.Fatal(err)
	}
	entry := func(s string) string { return `{"log":{"entries":[` + s + `]}}` }
	ok := `{"startedDateTime":"2025-01-01T00:00:00Z","time":1,"request":{"method":"GET","url":"https://a.test/"},"response":{"status":200}}`
	cases := []struct {
		name, in string
		opts     HAROptions
		want     string // in the error
	}{
		{name: "empty", in: "", want: "unexpected end of input"},
		{name: "truncated file", in: string(chrome[:len(chrome)*2/3]), want: "entry 2: response: unexpected end of input (truncated file?)"},
		{name: "truncated in entry 1", in: entry(ok + `,{"startedDateTime":"2025-01-01T00:00:00Z","request":{"method":"GE`), want: "entry 1: request.method: unexpected end of input"},
		{name: "not json", in: "<html>", want: "invalid JSON"},
		{name: "array at top", in: "[1,2]", want: "want an object"},
		{name: "no entries", in: `{"log":{"version":"1.2"}}`, want: "no log.entries"},
		{name: "entries not array", in: `{"log":{"entries":{}}}`, want: "log.entries: want an array"},
		{name: "bad time", in: entry(`{"startedDateTime":"yesterday","request":{"method":"GET","url":"u"}}`), want: `entry 0: startedDateTime "yesterday"`},
		{name: "missing start", in: entry(`{"request":{"method":"GET","url":"u"}}`), want: "entry 0: startedDateTime missing"},
		{name: "missing url", in: entry(ok + `,{"startedDateTime":"2025-01-01T00:00:00Z","request":{"method":"GET"}}`), want: "entry 1: request.method or request.url missing"},
		{name: "url is a number", in: entry(`{"request":{"url":5}}`), want: "entry 0: request.url: want a string, got a number"},
		{name: "status is a string", in: entry(`{"response":{"status":"200"}}`), want: "entry 0: response.status: want a number"},
		{name: "status out of range", in: entry(`{"response":{"status":1e9}}`), want: "is not an HTTP status"},
		{name: "headers not objects", in: entry(`{"request":{"headers":[1]}}`), want: "entry 0: request.headers: want an object"},
		{name: "too deep", in: entry(`{"x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`), want: "entry 0: x: nesting too deep"},
		{name: "long string", in: entry(`{"request":{"url":"` + strings.Repeat("a", 2000) + `"}}`), opts: HAROptions{MaxString: 1000}, want: "entry 0: request.url: string too long"},
		{name: "entry too large", in: entry(`{"request":{"headers":[` + strings.Repeat(`{"name":"a","value":"b"},`, 200) + `{}]}}`), opts: HAROptions{MaxEntryBytes: 1000}, want: "entry 0: request.headers: entry larger than 1000 bytes"},
		{name: "too many headers", in: entry(`{"request":{"headers":[` + strings.Repeat(`{},`, 20) + `{}]}}`), opts: HAROptions{MaxHeaders: 10}, want: "more than 10 elements"},
		{name: "trailing data", in: entry(ok) + `{}`, want: "after the HAR's closing brace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadHAR(strings.NewReader(tc.in), tc.opts, func(*model.Exchange) error { return nil })
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrHAR) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want ErrHAR containing %q", err, tc.want)
			}
		})
	}
}

func TestReadHAREmitError(t *testing.T) {
	stop := errors.New("stop")
	f, _ := os.Open("testdata/chrome_login.har")
	defer f.Close()
	n := 0
	sum, err := ReadHAR(f, HAROptions{}, func(*model.Exchange) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "entry 1") || sum.Entries != 2 {
		t.Errorf("err %v, summary %+v", err, sum)
	}
}

// TestReadHARSkipsBodies checks that bodies are dropped before the decoder sees them,
// whatever their escapes, and that "text" elsewhere is kept.
func TestReadHARSkipsBodies(t *testing.T) {
	body := `x\"y\\\"z\u0041` + strings.Repeat("0123456789", 1000) + `\\`
	har := `{"log":{"entries":[{"startedDateTime":"2025-01-01T00:00:00Z","request":{"method":"POST","url":"https://a.test/text?text=1",` +
		`"postData":{"mimeType":"text/plain","text":"` + body + `"}},"response":{"status":200,"content":{"size":1,"text":"` + body + `"},` +
		`"headers":[{"name":"text","value":"kept"}]}}]}}`
	f := newBodyFilter(strings.NewReader(har), 1<<20, 64)
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "0123456789") || !strings.Contains(string(out), `"text":""`) || !strings.Contains(string(out), `"name":"text","value":"kept"`) {
		t.Errorf("filtered: %s", out)
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Errorf("filtered JSON invalid: %v", err)
	}
	if f.dropped != int64(2*len(body)) {
		t.Errorf("dropped %d, want %d", f.dropped, 2*len(body))
	}
	// Byte at a time: the state carries across reads.
	out2, err := io.ReadAll(newBodyFilter(iotestOneByte(strings.NewReader(har)), 1<<20, 64))
	if err != nil || string(out2) != string(out) {
		t.Errorf("one byte at a time differs: %v", err)
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func iotestOneByte(r io.Reader) io.Reader { return oneByteReader{r} }

// writeLargeHAR writes a HAR of n entries whose response bodies are bodySize bytes
// (every 1000th ten times larger), and returns its size.
func writeLargeHAR(tb testing.TB, path string, n, bodySize int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	body := strings.Repeat(`<div class=\"row\">lorem ipsum \u00e9 dolor</div>\n`, bodySize/48+1)[:bodySize]
	body = strings.TrimRight(body, `\u0`) // do not end inside an escape
	big := strings.Repeat(body, 10)
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	fmt.Fprint(w, `{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},"pages":[],"entries":[`)
	for i := range n {
		if i > 0 {
			w.WriteByte(',')
		}
		b := body
		if i%1000 == 999 {
			b = big
		}
		fmt.Fprintf(w, `{"startedDateTime":%q,"time":12.5,"request":{"method":"GET","url":"https://shop.example.test/item/%d?PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9",`+
			`"headers":[{"name":"user-agent","value":"Mozilla/5.0"},{"name":"cookie","value":"PHPSESSID=q3hgl8v5c0m2k7ut3ohs1f2km9; theme=dark"}],"cookies":[{"name":"PHPSESSID","value":"q3hgl8v5c0m2k7ut3ohs1f2km9"}]},`+
			`"response":{"status":200,"headers":[{"name":"content-type","value":"text/html"},{"name":"set-cookie","value":"seen=%d; Path=/; HttpOnly"}],"cookies":[],`+
			`"content":{"size":%d,"mimeType":"text/html","text":"%s"},"redirectURL":""},`+
			`"timings":{"blocked":1,"dns":-1,"connect":-1,"send":0.1,"wait":10,"receive":1.4},"serverIPAddress":"203.0.113.7",`+
			`"_initiator":{"type":"parser","url":"https://shop.example.test/"}}`,
			start.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), i, i, len(b), b)
	}
	fmt.Fprint(w, `]}}`)
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return st.Size()
}

// heapSampler records the peak heap while a HAR streams through.
type heapSampler struct {
	base, peak uint64
	every, n   int
}

func newHeapSampler(every int) *heapSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &heapSampler{base: ms.HeapAlloc, peak: ms.HeapAlloc, every: every}
}

func (h *heapSampler) sample() {
	if h.n++; h.n%h.every != 0 {
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapAlloc)
}

func (h *heapSampler) growth() uint64 {
	if h.peak < h.base {
		return 0
	}
	return h.peak - h.base
}

func TestReadHARLargeStreams(t *testing.T) {
	n, bodySize := 20000, 2000
	if testing.Short() {
		n = 4000
	}
	path := filepath.Join(t.TempDir(), "large.har")
	size := writeLargeHAR(t, path, n, bodySize)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// HeapAlloc counts garbage not yet collected, and at the default GOGC the heap may
	// grow to 4 MiB before a collection: more than the bound of the -short file. At
	// GOGC=10 that floor is 0.4 MiB, so the peak is near what the reader holds. (This
	// test does not run in parallel: GOGC is the process's.)
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	hs := newHeapSampler(200)
	count := 0
	sum, err := ReadHAR(f, HAROptions{}, func(x *model.Exchange) error {
		count++
		hs.sample()
		if x.SessionRef != model.Ref("q3hgl8v5c0m2k7ut3ohs1f2km9") || !strings.Contains(x.URL, "PHPSESSID=q3hg…m9") {
			return fmt.Errorf("exchange %s: ref %q url %q", x.ID, x.SessionRef, x.URL)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != n || sum.Entries != n {
		t.Fatalf("%d exchanges, summary %+v", count, sum)
	}
	if sum.BodyBytesSkipped < int64(n*bodySize) {
		t.Errorf("skipped %d body bytes, want at least %d", sum.BodyBytesSkipped, n*bodySize)
	}
	growth := hs.growth()
	t.Logf("file %d bytes, %d entries, peak heap growth %d bytes", size, n, growth)
	if growth >= uint64(size/4) {
		t.Errorf("peak heap growth %d bytes, want below a quarter of the file (%d)", growth, size/4)
	}
}

func FuzzReadHAR(f *testing.F) {
	for _, name := range []string{"chrome_login.har", "firefox_login.har", "chrome_sanitized.har", "firefox_redacted.har"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2025-01-01T00:00:00Z","request":{"method":"GET","url":"/?PHPSESSID=abcdefghij;jsessionid=x"},"response":{"content":{"text":"a\"b"}}}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts := HAROptions{MaxString: 4096, MaxEntryBytes: 1 << 16, MaxDepth: 32, MaxHeaders: 64}
		_, err := ReadHAR(strings.NewReader(string(b)), opts, func(x *model.Exchange) error {
			if _, err := json.Marshal(x); err != nil {
				t.Fatalf("marshal: %v", err)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrHAR) {
			t.Fatalf("error not wrapping ErrHAR: %v", err)
		}
	})
}
