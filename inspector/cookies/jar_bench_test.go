package cookies

import (
	"fmt"
	"testing"
	"time"
)

// jarAPI is what the benchmark and the differential test drive: Jar and refJar.
type jarAPI interface {
	Store(ctx Context, setCookie string) Verdict
	Send(ctx Context) ([]Cookie, []Blocked)
}

// manyNamesJar fills j as a shop capture does (the HAR analysis' hot case): a session
// cookie and 179 cookies of their own name and path on one site, and a few on others.
func manyNamesJar(j jarAPI, start time.Time) {
	shop := mustURL("https://www.shop.example.test/")
	j.Store(Context{URL: shop, TopLevelNav: true, Now: start}, "PHPSESSID=abc; Path=/; HttpOnly")
	for i := 1; i < 180; i++ {
		item := mustURL(fmt.Sprintf("https://www.shop.example.test/item/%d", i))
		j.Store(Context{URL: item, TopLevelNav: true, Now: start}, fmt.Sprintf("viewed_%d=1; Path=/item/%d; Domain=shop.example.test; Max-Age=86400", i, i))
	}
	for i := range 20 {
		other := mustURL(fmt.Sprintf("https://cdn%d.other.test/", i))
		j.Store(Context{URL: other, Now: start}, "o=1; SameSite=None; Secure")
	}
}

// BenchmarkJarSendStore measures the jar's two steps against refJar (the jar before
// it kept per-cookie facts), side by side:
//   - send-many-names: Send on a page of a site whose jar holds 180 cookies, most of
//     them on other paths (blocked, NotOnPath), as in a capture that sets a cookie
//     name per product viewed;
//   - live-step: what the live rules do per proxied exchange: Send, then Store of a
//     fresh session id and a repeated preference cookie, on a loopback http URL.
func BenchmarkJarSendStore(b *testing.B) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	impls := []struct {
		name string
		new  func() jarAPI
	}{{"before", func() jarAPI { return &refJar{} }}, {"after", func() jarAPI { return &Jar{} }}}
	for _, impl := range impls {
		b.Run("send-many-names/"+impl.name, func(b *testing.B) {
			j := impl.new()
			manyNamesJar(j, start)
			page := mustURL("https://www.shop.example.test/item/7")
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				sent, _ := j.Send(Context{URL: page, TopLevelNav: true, Now: start.Add(time.Duration(i) * time.Millisecond)})
				if len(sent) != 2 {
					b.Fatalf("sent %d cookies, want 2", len(sent))
				}
			}
		})
	}
	for _, impl := range impls {
		b.Run("live-step/"+impl.name, func(b *testing.B) {
			j := impl.new()
			page := mustURL("http://127.0.0.1:8080/dashboard")
			lines := make([]string, 64)
			for i := range lines {
				lines[i] = fmt.Sprintf("PHPSESSID=sess%022d; path=/; HttpOnly; SameSite=Lax", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				ctx := Context{URL: page, Method: "GET", TopLevelNav: true, Now: start.Add(time.Duration(i) * time.Millisecond)}
				j.Send(ctx)
				if v := j.Store(ctx, lines[i%len(lines)]); !v.Stored {
					b.Fatalf("not stored: %v", v.Reasons)
				}
				j.Store(ctx, "theme=dark; Path=/; Max-Age=31536000")
			}
		})
	}
}
