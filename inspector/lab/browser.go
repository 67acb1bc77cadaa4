package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic"
)

// maxRedirects is where a browser gives up following redirects (Chromium: 20).
const maxRedirects = 20

// maxPageBytes bounds what the virtual browser reads of a page.
const maxPageBytes = 1 << 20

// roundTrip is the virtual browser's pause before each request, standing for the
// network and the browser's own work between a response and the next request (a
// redirect follow included). Without it requests on loopback follow each other
// within microseconds, closer than sessionscope's store/HTTP join tolerates (25 ms):
// no real browser and network are that fast, and the joins would be ambiguous.
const roundTrip = 40 * time.Millisecond

// browser is the virtual browser: one profile with its own cookie jar (Chromium's
// rules, inspector/cookies), User-Agent and source address. It resolves every lab
// host to loopback itself, so *.localhost and shop.lab.test need no DNS.
type browser struct {
	actor  string
	ua     string
	clock  clock // the time the jar judges cookie expiry by
	jar    *cookies.Jar
	client *http.Client
	page   *page // the current document, nil before the first load
	record func(Step)
	mask   traffic.Mapping
}

// page is a loaded document: its URL and what the scripts can act on.
type page struct {
	url    *url.URL
	status int
	links  map[string]string // id -> href
	forms  map[string]form   // id -> form
}

type form struct {
	method string
	action string
	fields map[string]string // the form's own inputs and their values
}

// newBrowser makes a browser whose connections leave from sourceIP ("" lets the
// system choose, which is 127.0.0.1 for loopback).
func newBrowser(actor, ua, sourceIP string, c clock, record func(Step)) *browser {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if sourceIP != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(sourceIP)}
	}
	tr := &http.Transport{
		Proxy: nil,
		// Every lab host is loopback: dial 127.0.0.1 at the URL's port whatever the
		// name, as Chromium does for *.localhost (and --host-resolver-rules for *.test).
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, fmt.Errorf("virtual browser: dial %s: %w", addr, err)
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &browser{actor: actor, ua: ua, clock: c, jar: &cookies.Jar{}, record: record, mask: framework.RefMapper(nil),
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the browser follows redirects itself, with its cookie rules
		}}}
}

func (b *browser) close() { b.client.CloseIdleConnections() }

// navigate loads u as a top-level navigation started by initiator (nil: typed URL)
// and follows redirects, storing and sending cookies as Chromium does. referrer is
// the page the navigation came from.
func (b *browser) navigate(ctx context.Context, method string, u *url.URL, body url.Values, initiator, referrer *url.URL) error {
	var chain []*url.URL
	for hop := 0; ; hop++ {
		if hop > maxRedirects {
			return fmt.Errorf("virtual browser: more than %d redirects from %s: the app redirects in a circle", maxRedirects, b.masked(u.String()))
		}
		// Real time even on a virtual clock: the inspector joins on the wall clock.
		if err := pause(ctx, roundTrip); err != nil {
			return err
		}
		sentAt, now := time.Now(), b.clock.Now() // the step's time for people; the jar's
		cctx := cookies.Context{URL: u, Method: method, TopLevelNav: true, Initiator: initiator, RedirectChain: chain, Now: now}
		sent, blocked := b.jar.Send(cctx)
		var rdr io.Reader
		if method == http.MethodPost {
			rdr = strings.NewReader(body.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rdr)
		if err != nil {
			return fmt.Errorf("virtual browser: build %s %s: %w", method, b.masked(u.String()), err)
		}
		req.Header.Set("User-Agent", b.ua)
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if initiator != nil {
				req.Header.Set("Origin", origin(initiator))
			}
		}
		if ref := refererFor(referrer, u); ref != "" {
			req.Header.Set("Referer", ref)
		}
		if len(sent) > 0 {
			req.Header.Set("Cookie", cookies.CookieHeader(sent))
		}
		res, err := b.client.Do(req)
		if err != nil {
			return fmt.Errorf("virtual browser: %s %s: %w", method, b.masked(u.String()), err)
		}
		data, err := io.ReadAll(io.LimitReader(res.Body, maxPageBytes))
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("virtual browser: read %s: %w", b.masked(u.String()), err)
		}
		step := Step{Time: sentAt, Actor: b.actor, rawURL: u.String(), method: method}
		for _, c := range sent {
			step.sent = append(step.sent, c.Name)
		}
		var notes []string
		for _, bl := range blocked {
			notes = append(notes, fmt.Sprintf("%s held back: %s", bl.Cookie.Name, joinReasons(bl.Reasons)))
			step.held = append(step.held, cookieVerdict{name: bl.Cookie.Name, reasons: bl.Reasons})
		}
		for _, line := range res.Header.Values("Set-Cookie") {
			v := b.jar.Store(cookies.Context{URL: u, Method: method, TopLevelNav: true, Initiator: initiator, RedirectChain: chain, Now: now}, line)
			name, _, _ := strings.Cut(line, "=")
			step.set = append(step.set, cookieVerdict{name: name, reasons: v.Reasons})
			switch {
			case v.Deleted:
				notes = append(notes, name+" deleted")
			case v.Stored:
				notes = append(notes, name+" stored")
			case len(v.Reasons) > 0:
				notes = append(notes, fmt.Sprintf("%s refused: %s", name, joinReasons(v.Reasons)))
			}
		}
		loc := res.Header.Get("Location")
		text := fmt.Sprintf("%s %s → %d", method, b.masked(u.String()), res.StatusCode)
		if loc != "" {
			text += " " + b.masked(loc)
		}
		if len(notes) > 0 {
			text += " (" + strings.Join(notes, "; ") + ")"
		}
		step.Text = text
		b.record(step)
		if res.StatusCode >= 300 && res.StatusCode < 400 && loc != "" {
			next, err := u.Parse(loc)
			if err != nil {
				return fmt.Errorf("virtual browser: bad Location %q from %s: %w", b.masked(loc), b.masked(u.String()), err)
			}
			chain = append(chain, u)
			if res.StatusCode != http.StatusTemporaryRedirect && res.StatusCode != http.StatusPermanentRedirect {
				method, body = http.MethodGet, nil
			}
			u = next
			continue
		}
		b.page = parsePage(u, res.StatusCode, data)
		return nil
	}
}

func joinReasons(rs []cookies.Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// masked is a URL with any session id in it masked, for steps shown to users.
func (b *browser) masked(raw string) string { return traffic.MaskURL(raw, b.mask, model.Redaction{}) }

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// refererFor applies Chromium's default policy, strict-origin-when-cross-origin: the
// full URL (without fragment) to the same origin, only the origin across origins.
func refererFor(from, to *url.URL) string {
	if from == nil {
		return ""
	}
	if origin(from) == origin(to) {
		c := *from
		c.Fragment, c.User = "", nil
		return c.String()
	}
	return origin(from) + "/"
}

// parsePage finds the links and forms a script can act on, by id.
func parsePage(u *url.URL, status int, data []byte) *page {
	p := &page{url: u, status: status, links: map[string]string{}, forms: map[string]form{}}
	doc, err := html.Parse(strings.NewReader(string(data)))
	if err != nil {
		return p
	}
	var walk func(n *html.Node, f *form)
	walk = func(n *html.Node, f *form) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "a":
				if id, href := attr(n, "id"), attr(n, "href"); id != "" && href != "" {
					p.links[id] = href
				}
			case "form":
				nf := form{method: strings.ToUpper(attr(n, "method")), action: attr(n, "action"), fields: map[string]string{}}
				if nf.method == "" {
					nf.method = http.MethodGet
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, &nf)
				}
				if id := attr(n, "id"); id != "" {
					p.forms[id] = nf
				}
				return
			case "input":
				if f != nil && attr(n, "name") != "" {
					f.fields[attr(n, "name")] = attr(n, "value")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	return p
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// open loads a typed URL: no initiator, no referrer.
func (b *browser) open(ctx context.Context, u *url.URL) error {
	return b.navigate(ctx, http.MethodGet, u, nil, nil, nil)
}

// click follows a link of the current page; the page is the initiator.
func (b *browser) click(ctx context.Context, id string) error {
	if b.page == nil {
		return fmt.Errorf("virtual browser (%s): click %q: no page is loaded", b.actor, id)
	}
	href, ok := b.page.links[id]
	if !ok {
		return fmt.Errorf("virtual browser (%s): no link %q on %s (status %d): the scenario went another way", b.actor, id, b.masked(b.page.url.String()), b.page.status)
	}
	u, err := b.page.url.Parse(href)
	if err != nil {
		return fmt.Errorf("virtual browser (%s): link %q: %w", b.actor, id, err)
	}
	return b.navigate(ctx, http.MethodGet, u, nil, b.page.url, b.page.url)
}

// submit submits a form of the current page with fields over its own inputs.
func (b *browser) submit(ctx context.Context, id string, fields map[string]string) error {
	if b.page == nil {
		return fmt.Errorf("virtual browser (%s): submit %q: no page is loaded", b.actor, id)
	}
	f, ok := b.page.forms[id]
	if !ok {
		return fmt.Errorf("virtual browser (%s): no form %q on %s (status %d): the scenario went another way", b.actor, id, b.masked(b.page.url.String()), b.page.status)
	}
	u, err := b.page.url.Parse(f.action)
	if err != nil {
		return fmt.Errorf("virtual browser (%s): form %q action: %w", b.actor, id, err)
	}
	values := url.Values{}
	for k, v := range f.fields {
		values.Set(k, v)
	}
	for k, v := range fields {
		if v == FieldNewID {
			v = newSessionID()
		}
		values.Set(k, v)
	}
	if f.method == http.MethodGet {
		u.RawQuery = values.Encode()
		return b.navigate(ctx, http.MethodGet, u, nil, b.page.url, b.page.url)
	}
	return b.navigate(ctx, http.MethodPost, u, values, b.page.url, b.page.url)
}

// stealFrom copies the victim's cookie name into b as a script in the victim's page
// would read it: only from the victim's current page's cookies, and never HttpOnly ones.
func (b *browser) stealFrom(victim *browser, name string) (bool, error) {
	if victim.page == nil {
		return false, fmt.Errorf("virtual browser: steal %s: the victim has no page open", name)
	}
	visible, _ := victim.jar.Send(cookies.Context{URL: victim.page.url, TopLevelNav: true, Now: victim.clock.Now()})
	for _, c := range visible {
		if c.Name == name && !c.HTTPOnly {
			b.jar.Add(c)
			return true, nil
		}
	}
	return false, nil
}

func (b *browser) hasLink(id string) bool {
	if b.page == nil {
		return false
	}
	_, ok := b.page.links[id]
	return ok
}

func (b *browser) hasForm(id string) bool {
	if b.page == nil {
		return false
	}
	_, ok := b.page.forms[id]
	return ok
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
