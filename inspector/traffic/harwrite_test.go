package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
)

// lockedBuffer is a bytes.Buffer the proxy's request goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// serveHARProxy runs a proxy in front of upstream until the test ends and returns its
// base URL.
func serveHARProxy(t *testing.T, upstream string, sink func(*model.Exchange)) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProxy(ProxyConfig{Upstreams: []*url.URL{u}, Sink: sink, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func readHARBytes(t *testing.T, b []byte) ([]*model.Exchange, HARSummary) {
	t.Helper()
	var xs []*model.Exchange
	sum, err := ReadHAR(bytes.NewReader(b), HAROptions{IDPrefix: "r-"}, func(x *model.Exchange) error {
		xs = append(xs, x)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadHAR of the written HAR: %v\n%s", err, b)
	}
	return xs, sum
}

// A capture through the proxy, written as HAR and read back, gives the same exchanges.
func TestHARWriterRoundTrip(t *testing.T) {
	const sid, newSID = "q3hgl8v5c0m2k7ut3ohs1f2km9", "7sd9f8g7h6j5k4l3m2n1b0v9c8"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login.php":
			w.Header().Add("Set-Cookie", "PHPSESSID="+newSID+"; path=/admin; HttpOnly; SameSite=Lax")
			w.Header().Add("Set-Cookie", "theme=dark; Max-Age=3600; Domain=localhost; Secure")
			w.Header().Add("Set-Cookie", "old=; expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; path=/")
			w.Header().Add("Set-Cookie", "bad cookie=1; Path=/") // net/http refuses the name
			w.Header().Set("Location", "dashboard.php?PHPSESSID="+newSID)
			w.WriteHeader(http.StatusFound)
		case "/go": // as if it wrote ?next=... into its headers unsanitised
			w.Header().Add("Set-Cookie", "sessionID=12345678")
			w.Header().Set("Location", "/home")
			w.WriteHeader(http.StatusFound)
		case "/slow":
			time.Sleep(20 * time.Millisecond)
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
			fmt.Fprintln(w, "done")
		default:
			fmt.Fprintln(w, "ok")
		}
	}))
	defer up.Close()

	var buf lockedBuffer
	hw, err := NewHARWriter(&buf, HARWriterOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var captured []*model.Exchange
	added := make(chan *model.Exchange, 16)
	base := serveHARProxy(t, up.URL, func(x *model.Exchange) {
		if err := hw.Add(x); err != nil {
			t.Errorf("Add: %v", err)
		}
		added <- x
	})

	c := client()
	do := func(method, path string, hdr map[string]string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader("user=alice"))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		select { // the sink runs once the response has been streamed
		case x := <-added:
			captured = append(captured, x)
		case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
			t.Fatal("no exchange recorded")
		}
	}
	do("GET", "/index.php?a=1&b=x%20y", map[string]string{"User-Agent": "TestBrowser/1.0"})
	do("POST", "/login.php", map[string]string{"User-Agent": "TestBrowser/1.0", "Cookie": "PHPSESSID=" + sid + "; theme=light"})
	do("GET", "/dashboard.php?PHPSESSID="+newSID, map[string]string{"Cookie": "PHPSESSID=" + newSID, "Referer": base + "/login.php"})
	do("GET", "/slow", nil)
	do("GET", "/go?next=/home%0d%0aSet-Cookie:%20sessionID=12345678", map[string]string{"Referer": base + "/mail"})
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hw.Add(captured[0]); !errors.Is(err, ErrHARClosed) {
		t.Errorf("Add after Close: %v, want ErrHARClosed", err)
	}

	raw := buf.Bytes()
	var doc struct {
		Log struct {
			Version string
			Creator struct{ Name, Version string }
			Entries []json.RawMessage
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, raw)
	}
	if doc.Log.Version != "1.2" || doc.Log.Creator.Name != "sessionscope" || doc.Log.Creator.Version != "test" || len(doc.Log.Entries) != 5 {
		t.Fatalf("log header %+v, %d entries", doc.Log, len(doc.Log.Entries))
	}

	got, sum := readHARBytes(t, raw)
	if sum.Creator != "sessionscope test" || sum.ValuesStripped || sum.CookiesAbsent || len(got) != len(captured) {
		t.Fatalf("summary %+v, %d exchanges, want %d", sum, len(got), len(captured))
	}
	for i, want := range captured {
		g := got[i]
		t.Run(want.RawURL, func(t *testing.T) {
			if g.Method != want.Method || g.RawURL != want.RawURL || g.URL != want.URL || g.Status != want.Status ||
				g.RawLocation != want.RawLocation || g.Location != want.Location || g.Client.UA != want.Client.UA ||
				g.SessionRef != want.SessionRef || g.RawReferer != want.RawReferer {
				t.Errorf("exchange differs:\n got %+v\nwant %+v", g, want)
			}
			if g.Upstream != want.Upstream { // _upstream keeps the port that serverIPAddress drops
				t.Errorf("upstream %q, want %q", g.Upstream, want.Upstream)
			}
			if !g.Start.Equal(want.Start) {
				t.Errorf("start %v, want %v", g.Start, want.Start)
			}
			for _, p := range []struct {
				name      string
				got, want time.Time
			}{{"headers_sent", g.HeadersSent, want.HeadersSent}, {"end", g.End, want.End}} {
				if d := p.got.Sub(p.want); d > time.Microsecond || d < -time.Microsecond {
					t.Errorf("%s %v, want %v", p.name, p.got, p.want)
				}
			}
			if fmt.Sprint(g.InjectedHeaders) != fmt.Sprint(want.InjectedHeaders) {
				t.Errorf("injected headers %q, want %q", g.InjectedHeaders, want.InjectedHeaders)
			}
			if fmt.Sprint(g.CookiesSent) != fmt.Sprint(want.CookiesSent) {
				t.Errorf("cookies sent %+v, want %+v", g.CookiesSent, want.CookiesSent)
			}
			if len(g.SetCookies) != len(want.SetCookies) {
				t.Fatalf("set-cookies %+v, want %+v", g.SetCookies, want.SetCookies)
			}
			for j := range want.SetCookies {
				if a, b := describeSetCookie(g.SetCookies[j]), describeSetCookie(want.SetCookies[j]); a != b {
					t.Errorf("set-cookie %d:\n got %s\nwant %s", j, a, b)
				}
			}
		})
	}
	if x := got[1]; len(x.SetCookies) != 4 || x.SetCookies[0].Path != "/admin" || !x.SetCookies[0].HTTPOnly || x.SetCookies[0].SameSite != "Lax" ||
		x.SetCookies[1].MaxAge == nil || *x.SetCookies[1].MaxAge != 3600 || x.SetCookies[3].ParseError == "" {
		t.Errorf("login's Set-Cookie attributes lost: %+v", x.SetCookies)
	}
	if x := got[2]; x.RawReferer == "" {
		t.Error("the Referer was lost")
	}
	if x := got[4]; len(x.InjectedHeaders) != 1 || !strings.HasPrefix(x.InjectedHeaders[0], "Set-Cookie: sessionID=") {
		t.Errorf("the response splitting was lost: %q", x.InjectedHeaders)
	}
	if x := got[3]; x.End.Sub(x.HeadersSent) < 15*time.Millisecond {
		t.Errorf("slow response: headers_sent %v, end %v: the receive time was lost", x.HeadersSent, x.End)
	}
}

func describeSetCookie(sc model.SetCookie) string {
	exp, maxAge := "", ""
	if sc.Expires != nil {
		exp = sc.Expires.UTC().Format(time.RFC3339Nano)
	}
	if sc.MaxAge != nil {
		maxAge = fmt.Sprint(*sc.MaxAge)
	}
	return fmt.Sprintf("name=%s value=%s domain=%s path=%s secure=%v httponly=%v samesite=%s expires=%s maxage=%s ref=%s raw=%q parseerr=%v",
		sc.Name, sc.Value, sc.Domain, sc.Path, sc.Secure, sc.HTTPOnly, sc.SameSite, exp, maxAge, sc.SessionRef, sc.Raw, sc.ParseError != "")
}

// The writer keeps what the proxy keeps but has no field for in the exchange's JSON:
// the Referer, the client address, the upstream with its port, a failed request's error.
func TestHARWriterRawFields(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	x := &model.Exchange{
		ID: "p1", Start: start, HeadersSent: start.Add(5 * time.Millisecond), End: start.Add(7 * time.Millisecond),
		Method: "GET", URL: "http://localhost:8080/a?PHPSESSID=abcd…ef", RawURL: "http://localhost:8080/a?PHPSESSID=abcdefabcdefabcdef",
		RawReferer: "http://localhost:8080/?PHPSESSID=abcdefabcdefabcdef", Status: 502, Error: "dial tcp: connection refused",
		Client: model.Client{Addr: "127.0.0.1:5555", UA: "UA/1"}, Upstream: "127.0.0.1:9999",
		SetCookies: []model.SetCookie{{Name: "sid", Value: "v", Path: "/", HTTPOnly: true, SameSite: "Strict"}}, // no Raw: rebuilt
	}
	var buf bytes.Buffer
	hw, err := NewHARWriter(&buf, HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := hw.Add(x); err != nil {
		t.Fatal(err)
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Log struct {
			Comment string
			Entries []struct {
				ServerIPAddress string
				Upstream        string `json:"_upstream"`
				Client          string `json:"_clientAddress"`
				Request         struct {
					URL         string
					Headers     []harNV
					QueryString []harNV
				}
				Response struct {
					Headers []harNV
					Error   string `json:"_error"`
				}
				Timings harTimings
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if !strings.Contains(doc.Log.Comment, "live session cookies") {
		t.Errorf("log.comment %q does not warn about the credentials", doc.Log.Comment)
	}
	e := doc.Log.Entries[0]
	if e.ServerIPAddress != "127.0.0.1" || e.Upstream != "127.0.0.1:9999" || e.Client != "127.0.0.1:5555" || e.Request.URL != x.RawURL || e.Response.Error != x.Error {
		t.Errorf("entry %+v", e)
	}
	if fmt.Sprint(e.Request.Headers) != fmt.Sprint([]harNV{{"Host", "localhost:8080"}, {"User-Agent", "UA/1"}, {"Referer", x.RawReferer}}) {
		t.Errorf("request headers %v", e.Request.Headers)
	}
	if fmt.Sprint(e.Request.QueryString) != fmt.Sprint([]harNV{{"PHPSESSID", "abcdefabcdefabcdef"}}) {
		t.Errorf("query string %v", e.Request.QueryString)
	}
	if fmt.Sprint(e.Response.Headers) != fmt.Sprint([]harNV{{"Set-Cookie", "sid=v; Path=/; HttpOnly; SameSite=Strict"}}) {
		t.Errorf("response headers %v", e.Response.Headers)
	}
	if e.Timings.Wait != 5 || e.Timings.Receive != 2 {
		t.Errorf("timings %+v", e.Timings)
	}
	got, _ := readHARBytes(t, buf.Bytes())
	if g := got[0]; g.Error != x.Error || g.Status != 502 || !g.End.Equal(x.End) || g.SetCookies[0].SameSite != "Strict" {
		t.Errorf("read back %+v", g)
	}
}

// Concurrent Adds (the proxy's sink runs on every request's goroutine) give a valid
// HAR with every entry.
func TestHARWriterConcurrent(t *testing.T) {
	var buf lockedBuffer
	hw, err := NewHARWriter(&buf, HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				now := time.Now()
				x := &model.Exchange{ID: fmt.Sprint(w, "-", i), Start: now, End: now, Method: "GET",
					RawURL: fmt.Sprintf("http://127.0.0.1/w%d/%d", w, i), Status: 200,
					CookiesSent: []model.SentCookie{{Name: "PHPSESSID", Value: fmt.Sprintf("id%dx%dxxxxxxxxxxxxxxxxxx", w, i)}}}
				if err := hw.Add(x); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := hw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	got, _ := readHARBytes(t, buf.Bytes())
	if len(got) != workers*each || hw.Entries() != workers*each {
		t.Fatalf("%d entries read, %d written, want %d", len(got), hw.Entries(), workers*each)
	}
	seen := map[string]bool{}
	for _, x := range got {
		seen[x.RawURL] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct entries, want %d", len(seen), workers*each)
	}
}

// An empty capture is still a valid HAR, and the file holds credentials: owner-only.
func TestCreateHARFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.har")
	if err := os.WriteFile(path, []byte("old content that is longer than the new one, to see truncation"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	hw, err := CreateHARFile(path, HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := hw.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, sum := readHARBytes(t, b)
	if len(got) != 0 || !strings.HasPrefix(sum.Creator, "sessionscope ") {
		t.Errorf("%d entries, creator %q", len(got), sum.Creator)
	}
	fresh := filepath.Join(t.TempDir(), "fresh.har")
	hw, err = CreateHARFile(fresh, HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = hw.Close()
	st, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Errorf("mode %v: a capture with session cookies must be owner-only", st.Mode().Perm())
	}
	if _, err := CreateHARFile(filepath.Join(t.TempDir(), "no", "such", "dir.har"), HARWriterOptions{}); err == nil {
		t.Error("CreateHARFile in a missing directory: no error")
	}
}

// A write error sticks and is reported by Close.
func TestHARWriterWriteError(t *testing.T) {
	fw := &failWriter{failAfter: 1}
	hw, err := NewHARWriter(fw, HARWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x := &model.Exchange{Method: "GET", RawURL: "http://127.0.0.1/", Start: time.Now()}
	if err := hw.Add(x); err == nil {
		t.Fatal("Add: no error from a failing writer")
	}
	if err := hw.Add(x); err == nil {
		t.Error("second Add: the error did not stick")
	}
	if err := hw.Close(); err == nil {
		t.Error("Close: the write error was not reported")
	}
	if _, err := NewHARWriter(&failWriter{}, HARWriterOptions{}); err == nil {
		t.Error("NewHARWriter: no error when the header cannot be written")
	}
}

type failWriter struct{ n, failAfter int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	if f.n > f.failAfter {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}
