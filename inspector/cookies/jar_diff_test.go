package cookies

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"testing"
	"time"
)

// TestJarMatchesReference drives Jar and refJar (the jar before it kept per-cookie
// and per-host facts) through the same random browsing, across sites, schemes,
// loopback and IP hosts, public suffixes, Domain/Path/Secure/SameSite/prefix and
// expiry attributes, cross-site and third-party-blocked contexts, and requires the
// same verdict on every Set-Cookie line, the same cookies sent and blocked with the
// same reasons on every request, and the same jar contents.
func TestJarMatchesReference(t *testing.T) {
	urls := []string{
		"https://www.shop.example.test/", "https://www.shop.example.test/item/3", "http://shop.example.test/cart/",
		"https://api.shop.example.test/v1/x", "http://127.0.0.1:8080/dashboard", "http://localhost/a/b",
		"http://sub.localhost/", "https://example.co.uk/p", "https://www.example.co.uk/", "http://[::1]:80/x",
		"https://co.uk/", "http://10.0.0.1/", "wss://www.shop.example.test/ws", "https://other.test/",
		"https://WWW.Shop.Example.Test/Item/3", "ftp://shop.example.test/", "https://notshop.example.test/cart/",
	}
	parsed := make([]*url.URL, len(urls))
	for i, s := range urls {
		parsed[i] = mustURL(s)
	}
	names := []string{"sid", "PHPSESSID", "theme", "__Host-id", "__Secure-id", "viewed"}
	attrs := []string{"", "; Path=/", "; Path=/item", "; Path=/cart/", "; Path=x", "; Domain=shop.example.test",
		"; Domain=.Shop.Example.Test", "; Domain=example.test", "; Domain=co.uk", "; Domain=example.co.uk",
		"; Domain=127.0.0.1", "; Domain=localhost", "; Domain=sub.localhost", "; Domain=other.test", "; Secure",
		"; HttpOnly", "; SameSite=Strict", "; SameSite=Lax", "; SameSite=None", "; SameSite=bogus",
		"; Max-Age=0", "; Max-Age=30", "; Max-Age=-1", "; Max-Age=100000000",
		"; Expires=Thu, 01 Jan 2026 00:00:40 GMT", "; Expires=Wed, 01 Jan 2020 00:00:00 GMT", "; Partitioned",
		"; Foo=bar", "; Max-Age=soon"}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 17))
		pick := func() *url.URL { return parsed[rng.IntN(len(parsed))] }
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		fast, ref := &Jar{}, &refJar{}
		for step := range 400 {
			now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
			ctx := Context{URL: pick(), Now: now, TopLevelNav: rng.IntN(2) == 0, BlockThirdPartyCookies: rng.IntN(4) == 0}
			if rng.IntN(3) == 0 {
				ctx.Method = "POST"
			}
			if rng.IntN(3) == 0 {
				ctx.SiteForCookies = pick()
			}
			if rng.IntN(3) == 0 {
				ctx.Initiator = pick()
			}
			where := fmt.Sprintf("seed %d step %d %+v", seed, step, ctx)
			switch rng.IntN(5) {
			case 0, 1:
				line := fmt.Sprintf("%s=v%d", names[rng.IntN(len(names))], rng.IntN(3))
				for range rng.IntN(4) {
					line += attrs[rng.IntN(len(attrs))]
				}
				if got, want := fast.Store(ctx, line), ref.Store(ctx, line); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: Store(%q)\n got %+v\nwant %+v", where, line, got, want)
				}
			case 2:
				c := Cookie{Name: names[rng.IntN(len(names))], Value: "seeded", Domain: []string{"Shop.Example.TEST", ".shop.example.test", "127.0.0.1", "localhost"}[rng.IntN(4)],
					HostOnly: rng.IntN(2) == 0, Path: "/", Secure: rng.IntN(2) == 0, SameSite: SameSite(rng.IntN(4)), Created: now,
					Persistent: rng.IntN(2) == 0, Expires: now.Add(time.Duration(rng.IntN(60)) * time.Second)}
				fast.Add(c)
				ref.Add(c)
			default:
				gs, gb := fast.Send(ctx)
				ws, wb := ref.Send(ctx)
				if !reflect.DeepEqual(gs, ws) || !reflect.DeepEqual(gb, wb) {
					t.Fatalf("%s: Send\n got %+v %+v\nwant %+v %+v", where, gs, gb, ws, wb)
				}
			}
			// An empty jar's nil and empty slices are the same answer.
			if got, want := fast.Cookies(now), ref.Cookies(now); (len(got) > 0 || len(want) > 0) && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: Cookies\n got %+v\nwant %+v", where, got, want)
			}
		}
	}
}

// TestJarParsedLineNotShared: a jar remembers parsed lines, but the Raw a verdict
// hands out is the caller's own: changing it does not change the next verdict.
func TestJarParsedLineNotShared(t *testing.T) {
	var j Jar
	ctx := Context{URL: mustURL("https://example.test/"), TopLevelNav: true}
	const line = "sid=1; Foo=bar; Path=/"
	first := j.Store(ctx, line)
	if len(first.Raw.Ignored) != 1 {
		t.Fatalf("ignored %q, want the unknown attribute", first.Raw.Ignored)
	}
	first.Raw.Ignored[0] = "changed"
	if second := j.Store(ctx, line); second.Raw.Ignored[0] == "changed" {
		t.Errorf("the second verdict's Raw.Ignored is the first's: %q", second.Raw.Ignored)
	}
}
