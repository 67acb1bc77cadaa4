// Package hartest writes generated HAR captures for benchmarks and tests: a browser
// that visits a shop again and again, each visit a login, pages, assets, API calls and
// a logout, so a capture of n entries holds many sessions, redirects and cookies.
package hartest

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// Site is the generated capture's first-party origin.
const Site = "https://shop.example.test"

// Options shapes a generated capture. The zero value is a plain shop.
type Options struct {
	// BodyBytes is the size of each HTML response body written into the HAR (the
	// importer skips bodies, but it still has to read past them). Default 600.
	BodyBytes int
	// Start is the first entry's time. Default 2026-03-14 09:00 UTC.
	Start time.Time
}

// WriteRealistic writes a HAR 1.2 file of exactly n entries to w. The capture is one
// browser visiting a shop over and over; each visit is an anonymous landing page that
// sets a session cookie, its assets, a login form, a POST answered 302 with a fresh
// session id, the account page, API calls, product pages (some carrying the session id
// in the URL, some on an API subdomain with a Domain cookie, a cross-site analytics
// beacon), and a logout that deletes the cookie. Every twentieth visit loops between
// the login and the account page because its session cookie is set on the wrong path.
// Session ids are all different, so n entries hold about n/7 sessions.
func WriteRealistic(w io.Writer, n int, opts Options) error {
	if opts.BodyBytes <= 0 {
		opts.BodyBytes = 600
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	}
	g := &gen{w: bufio.NewWriterSize(w, 1<<16), n: n, now: opts.Start,
		body: strings.Repeat("<p>lorem ipsum dolor sit amet</p>\\n", opts.BodyBytes/35+1)[:opts.BodyBytes]}
	g.body = strings.TrimRight(g.body, `\`) // do not end inside an escape
	fmt.Fprint(g.w, `{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},`+
		`"browser":{"name":"Chrome","version":"131.0"},"pages":[],"entries":[`)
	for visit := 0; g.written < n; visit++ {
		g.visit(visit)
	}
	fmt.Fprint(g.w, "]}}\n")
	return g.w.Flush()
}

type gen struct {
	w       *bufio.Writer
	n       int
	written int
	now     time.Time
	body    string
	ids     uint64
}

type header struct{ name, value string }

type entry struct {
	method, url string
	status      int
	reqHeaders  []header
	respHeaders []header
	mime        string
	body        bool
}

const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// sessionID is a fresh PHP-looking session id (26 base-32 characters).
func (g *gen) sessionID() string {
	g.ids++
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	v := g.ids*0x9e3779b97f4a7c15 ^ 0x5bd1e995
	var b [26]byte
	for i := range b {
		b[i] = alphabet[v&31]
		v = v>>5 | v<<59
		if i == 12 {
			v ^= g.ids * 0xc2b2ae3d27d4eb4f
		}
	}
	return string(b[:])
}

// visit writes one visit's entries (stopping at n).
func (g *gen) visit(v int) {
	anon := g.sessionID()
	authed := g.sessionID()
	loop := v%20 == 19
	ga := fmt.Sprintf("GA1.2.%d.%d", 1000000+v, 1700000000+v)
	jar := "_ga=" + ga
	page := func(method, path string, status int, referer string, resp ...header) entry {
		req := []header{{"user-agent", ua}, {"accept", "text/html,application/xhtml+xml"}, {"accept-language", "en-GB,en;q=0.9"}}
		if referer != "" {
			req = append(req, header{"referer", referer})
		}
		if jar != "" {
			req = append(req, header{"cookie", jar})
		}
		resp = append([]header{{"content-type", "text/html; charset=UTF-8"}, {"cache-control", "no-store"}}, resp...)
		return entry{method: method, url: Site + path, status: status, reqHeaders: req, respHeaders: resp, mime: "text/html", body: status == 200}
	}
	asset := func(path, mime string) entry {
		return entry{method: "GET", url: Site + path, status: 200,
			reqHeaders:  []header{{"user-agent", ua}, {"accept", "*/*"}, {"referer", Site + "/"}, {"cookie", jar}},
			respHeaders: []header{{"content-type", mime}, {"cache-control", "max-age=31536000"}}, mime: mime}
	}
	set := func(line string) header { return header{"set-cookie", line} }

	g.write(page("GET", fmt.Sprintf("/?utm_source=news&campaign=%d", v), 200, "",
		set("PHPSESSID="+anon+"; path=/; HttpOnly; SameSite=Lax")))
	jar = "PHPSESSID=" + anon + "; _ga=" + ga
	g.write(asset("/static/app.css", "text/css"))
	g.write(asset("/static/app.js", "application/javascript"))
	g.write(asset(fmt.Sprintf("/img/banner-%d.webp", v%7), "image/webp"))
	g.write(entry{method: "GET", url: "https://stats.analytics.test/collect?v=2&tid=G-XYZ&cid=" + ga, status: 204,
		reqHeaders:  []header{{"user-agent", ua}, {"referer", Site + "/"}, {"cookie", "uid=" + ga}},
		respHeaders: []header{set("uid=" + ga + "; Domain=analytics.test; Path=/; Max-Age=63072000; Secure; SameSite=None")}})
	g.write(page("GET", "/login", 200, Site+"/"))
	if loop {
		// The session cookie of the login lands on /account only: the next page load
		// does not carry it, and the app sends the browser back to the login.
		g.write(page("POST", "/login", 302, Site+"/login", header{"location", "/account"},
			set("PHPSESSID="+authed+"; path=/account/; HttpOnly; SameSite=Lax")))
		for range 3 {
			g.write(page("GET", "/account", 302, Site+"/login", header{"location", "/login"}))
			g.write(page("GET", "/login", 200, Site+"/account"))
		}
		return
	}
	g.write(page("POST", "/login", 302, Site+"/login", header{"location", "/account"},
		set("PHPSESSID="+authed+"; path=/; HttpOnly; SameSite=Lax"),
		set("remember_me="+fmt.Sprintf("%x", uint64(v)*0x9e3779b97f4a7c15)+"; path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax")))
	jar = "PHPSESSID=" + authed + "; _ga=" + ga
	g.write(page("GET", "/account", 200, Site+"/login"))
	g.write(entry{method: "GET", url: "https://api.shop.example.test/v1/cart", status: 200,
		reqHeaders:  []header{{"user-agent", ua}, {"accept", "application/json"}, {"origin", Site}, {"referer", Site + "/account"}, {"cookie", "api_token=t" + authed}},
		respHeaders: []header{{"content-type", "application/json"}, set("api_token=t" + authed + "; Domain=.example.test; Path=/; Secure; HttpOnly; SameSite=Strict")}, mime: "application/json"})
	for i := range 3 {
		path := fmt.Sprintf("/item/%d", v*10+i)
		if i == 2 && v%5 == 0 {
			path += ";jsessionid=" + authed // an old link rewriter puts the id in the URL
		}
		g.write(page("GET", path+"?view=full", 200, Site+"/account"))
		g.write(asset(fmt.Sprintf("/img/item-%d.jpg", v*10+i), "image/jpeg"))
	}
	g.write(entry{method: "POST", url: Site + "/api/cart/add", status: 200,
		reqHeaders:  []header{{"user-agent", ua}, {"accept", "application/json"}, {"referer", Site + "/item"}, {"cookie", jar}},
		respHeaders: []header{{"content-type", "application/json"}}, mime: "application/json"})
	g.write(page("GET", "/logout", 302, Site+"/account", header{"location", "/"},
		set("PHPSESSID=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; path=/")))
	jar = "_ga=" + ga
}

// write writes one entry, unless n are written already.
func (g *gen) write(e entry) {
	if g.written >= g.n {
		return
	}
	if g.written > 0 {
		g.w.WriteByte(',')
	}
	g.written++
	g.now = g.now.Add(137 * time.Millisecond)
	fmt.Fprintf(g.w, `{"startedDateTime":%q,"time":42.5,"request":{"method":%q,"url":%q,"httpVersion":"HTTP/2","headers":[`,
		g.now.Format(time.RFC3339Nano), e.method, e.url)
	writeHeaders(g.w, e.reqHeaders)
	fmt.Fprint(g.w, `],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},`)
	fmt.Fprintf(g.w, `"response":{"status":%d,"statusText":"","httpVersion":"HTTP/2","headers":[`, e.status)
	writeHeaders(g.w, e.respHeaders)
	location := ""
	for _, h := range e.respHeaders {
		if h.name == "location" {
			location = h.value
		}
	}
	text := ""
	if e.body {
		text = g.body
	}
	fmt.Fprintf(g.w, `],"cookies":[],"content":{"size":%d,"mimeType":%q,"text":"%s"},"redirectURL":%q,"headersSize":-1,"bodySize":%d},`,
		len(text), e.mime, text, location, len(text))
	fmt.Fprint(g.w, `"cache":{},"timings":{"blocked":0.5,"dns":-1,"ssl":-1,"connect":-1,"send":0.1,"wait":40.2,"receive":1.7},"serverIPAddress":"203.0.113.7","_priority":"High"}`)
}

func writeHeaders(w *bufio.Writer, hs []header) {
	for i, h := range hs {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `{"name":%q,"value":%q}`, h.name, h.value)
	}
}
