package diagnose

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// TestReplayJarEvictsLikeChromium: past 180 cookies for one site the jar drops the 30
// least recently used, insecure first; a session cookie the requests keep sending
// survives, and another site's cookies are not touched.
func TestReplayJarEvictsLikeChromium(t *testing.T) {
	jar := newReplayJar()
	shop, _ := url.Parse("https://www.shop.example.test/")
	other, _ := url.Parse("https://other.test/")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) cookies.Context {
		return cookies.Context{URL: shop, Method: "GET", TopLevelNav: true, Now: start.Add(time.Duration(i) * time.Second)}
	}
	jar.Store(cookies.Context{URL: other, Method: "GET", TopLevelNav: true, Now: start}, "elsewhere=1; Path=/")
	jar.Store(at(0), "PHPSESSID=abc; Path=/; HttpOnly")
	jar.Store(at(0), "secure_old=1; Path=/secure; Secure")
	for i := 1; i <= 179; i++ {
		jar.Send(at(i)) // every request carries the session cookie, none the others
		if v := jar.Store(at(i), fmt.Sprintf("viewed_%d=1; Path=/item/%d; Domain=shop.example.test", i, i)); !v.Stored {
			t.Fatalf("viewed_%d not stored: %v", i, v.Reasons)
		}
	}
	// 181 cookies for the site now: over the limit, down to 150. PHPSESSID is the
	// oldest but the most recently sent; secure_old is old and unused but Secure.
	held := jar.jar.Cookies(at(200).Now)
	names := map[string]bool{}
	for _, c := range held {
		names[c.Name] = true
	}
	if len(held) != siteMaxCookies-sitePurgeCookies+1 {
		t.Errorf("%d cookies held after the purge, want %d and the other site's", len(held), siteMaxCookies-sitePurgeCookies)
	}
	for name, want := range map[string]bool{"PHPSESSID": true, "secure_old": true, "viewed_1": false, "viewed_31": false, "viewed_32": true, "viewed_179": true} {
		if names[name] != want {
			t.Errorf("%s sent: %v, want %v", name, names[name], want)
		}
	}
	if sent, _ := jar.Send(cookies.Context{URL: other, Method: "GET", TopLevelNav: true, Now: start.Add(time.Hour)}); len(sent) != 1 {
		t.Errorf("the other site's cookies: %d, want 1", len(sent))
	}
}

// BenchmarkReplayManyCookieNames replays captures whose every response sets a new
// cookie name, at 1,000 and 4,000 entries: ns/entry should stay flat (it grew with
// the number of entries, 1.8 ms to 6.7 ms, before the jar evicted as Chromium does).
func BenchmarkReplayManyCookieNames(b *testing.B) {
	for _, n := range []int{1000, 4000} {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var xs []*model.Exchange
		for i := range n {
			xs = append(xs, &model.Exchange{ID: fmt.Sprint(i), Method: "GET", Status: 200, Start: start.Add(time.Duration(i) * time.Second),
				RawURL: fmt.Sprintf("https://shop.example.test/item/%d", i), URL: fmt.Sprintf("https://shop.example.test/item/%d", i),
				SetCookies: []model.SetCookie{{Name: fmt.Sprintf("viewed_%d", i), Raw: fmt.Sprintf("viewed_%d=1; Path=/; Max-Age=86400", i)}}})
		}
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			for b.Loop() {
				AnalyzeExchanges(xs, AnalyzeOptions{})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
	}
}
