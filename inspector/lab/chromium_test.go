package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
)

// chromiumScenarios are the cookie scenarios whose verdicts real Chromium must
// share with the virtual browser, each with the reasons that show its failure.
var chromiumScenarios = []struct {
	id      string
	failure []cookies.Reason
}{
	{"cookie-domain-mismatch", []cookies.Reason{cookies.DomainMismatch}},
	{"cookie-path-mismatch", []cookies.Reason{cookies.NotOnPath}},
	{"secure-cookie-over-http", []cookies.Reason{cookies.SecureOnly}},
	{"samesite-strict-cross-site-return", []cookies.Reason{cookies.SameSiteStrict, cookies.SchemefulSameSiteStrict}},
}

// hopVerdict is what a browser decided about cookies in one request and its
// response: a redirect hop is a request of its own.
type hopVerdict struct {
	request string          // METHOD URL
	sent    []string        // cookie names, sorted
	held    []cookieVerdict // held back, sorted by name
	set     []cookieVerdict // Set-Cookie lines in header order; no reasons: accepted
}

func (h hopVerdict) String() string {
	var b strings.Builder
	b.WriteString(h.request)
	b.WriteString(" | sent:")
	for _, n := range h.sent {
		b.WriteString(" " + n)
	}
	b.WriteString(" | held:")
	for _, c := range h.held {
		b.WriteString(" " + c.name + "(" + joinReasons(c.reasons) + ")")
	}
	b.WriteString(" | set:")
	for _, c := range h.set {
		if len(c.reasons) == 0 {
			b.WriteString(" " + c.name + "(accepted)")
		} else {
			b.WriteString(" " + c.name + "(refused " + joinReasons(c.reasons) + ")")
		}
	}
	return b.String()
}

func newHop(method, rawURL string, sent []string, held, set []cookieVerdict) hopVerdict {
	sent = slices.Sorted(slices.Values(sent))
	held = slices.Clone(held)
	slices.SortStableFunc(held, func(a, b cookieVerdict) int { return strings.Compare(a.name, b.name) })
	return hopVerdict{request: method + " " + rawURL, sent: sent, held: held, set: set}
}

// shows reports whether a hop held back or refused a cookie for one of reasons.
func (h hopVerdict) shows(reasons []cookies.Reason) bool {
	for _, c := range slices.Concat(h.held, h.set) {
		for _, r := range c.reasons {
			if slices.Contains(reasons, r) {
				return true
			}
		}
	}
	return false
}

// TestChromiumCookieParity replays each cookie scenario's victim script, broken and
// fixed, in real Chromium through the lab's proxy and checks that Chromium's cookie
// verdicts (from DevTools) are the virtual browser's: the same requests, redirect
// hops included, in the same order, the same cookies sent and held back for the same
// reasons, and the same Set-Cookie lines accepted or refused for the same reasons.
// The lab's scenarios rest on the virtual browser; this is what makes them true of
// the browser a trainer shows them in.
func TestChromiumCookieParity(t *testing.T) {
	// shop.lab.test must be a real, non-secure origin for Chromium, as it is for the
	// virtual browser; *.localhost and 127.0.0.1 need no mapping.
	b := browsertest.New(t, chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"))
	// Real time: Chromium's cookie jar runs on the wall clock.
	env := startLabWith(t, Config{})
	rec := &devtoolsRecorder{port: env.env.app.proxyPort}
	if err := chromedp.Listen(b.Context(), rec.onEvent); err != nil {
		t.Fatal(err)
	}
	for _, sc := range chromiumScenarios {
		for _, fixed := range []bool{false, true} {
			name := sc.id
			if fixed {
				name += "/fixed"
			}
			t.Run(name, func(t *testing.T) {
				virtual := virtualVerdicts(t, env, sc.id, fixed)
				got := chromiumVerdicts(t, b, rec, env, sc.id, fixed)
				if !slices.EqualFunc(virtual, got, func(x, y hopVerdict) bool { return x.String() == y.String() }) {
					t.Errorf("the virtual browser and Chromium disagree\nvirtual browser:\n\t%s\nChromium:\n\t%s",
						joinHops(virtual), joinHops(got))
				}
				shown := slices.ContainsFunc(got, func(h hopVerdict) bool { return h.shows(sc.failure) })
				switch {
				case !fixed && !shown:
					t.Errorf("the broken run shows no cookie held back or refused for %s in Chromium:\n\t%s",
						joinReasons(sc.failure), joinHops(got))
				case fixed && shown:
					t.Errorf("the fixed run still holds back or refuses a cookie for %s in Chromium:\n\t%s",
						joinReasons(sc.failure), joinHops(got))
				}
				if !t.Failed() {
					t.Logf("both browsers:\n\t%s", joinHops(got))
				}
			})
		}
	}
}

func joinHops(hs []hopVerdict) string {
	s := make([]string, len(hs))
	for i, h := range hs {
		s[i] = h.String()
	}
	return strings.Join(s, "\n\t")
}

// virtualVerdicts runs the scenario with the runner and reads the virtual browser's
// verdicts from its steps.
func virtualVerdicts(t *testing.T, env *Env, id string, fixed bool) []hopVerdict {
	t.Helper()
	run := runScenario(t, env, id, fixed)
	if run.State == RunError {
		t.Fatalf("virtual run of %s (fixed %v):\n%s", id, fixed, describe(run))
	}
	var hops []hopVerdict
	for _, s := range run.Steps {
		if s.rawURL == "" {
			continue // a skipped action or a wait: no request
		}
		hops = append(hops, newHop(s.method, s.rawURL, s.sent, s.held, s.set))
	}
	return hops
}

// chromiumVerdicts configures the lab as the runner does and replays the scenario's
// victim script in Chromium, with a clean cookie jar and cache.
func chromiumVerdicts(t *testing.T, b *browsertest.Browser, rec *devtoolsRecorder, env *Env, id string, fixed bool) []hopVerdict {
	t.Helper()
	script, err := Script(id)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := definitionOf(id)
	env.env.app.configure(d, fixed)

	ctx, cancel := b.Guard()
	defer cancel()
	// A cached 301 from an earlier case (the fixed runs redirect to a canonical host)
	// would skip a request; earlier cookies would change every verdict.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.ClearBrowserCache, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Logf("about:blank: %v", err)
	}
	rec.reset()

	for i, a := range script {
		if a.Actor != ActorVictim {
			t.Fatalf("step %d: the parity test replays the victim only, not %q", i+1, a.Actor)
		}
		actx, acancel := b.Guard()
		err := replay(actx, a, env)
		acancel()
		if errors.Is(err, errSkipped) {
			continue
		}
		if err != nil {
			t.Fatalf("step %d (%s %s%s%s): %v", i+1, a.Do, a.Host+a.Path, a.Link, a.Form, err)
		}
		rec.waitComplete(t)
	}
	return rec.verdicts()
}

// errSkipped marks an optional action whose link or form is not on the page.
var errSkipped = errors.New("skipped")

// replay performs one victim action in the tab, as the runner does in the virtual
// browser.
func replay(ctx context.Context, a Action, env *Env) error {
	switch a.Do {
	case DoOpen:
		u := url.URL{Scheme: "http", Host: net.JoinHostPort(a.Host, env.env.portFor(a.Host)), Path: a.Path}
		_, err := chromedp.RunResponse(ctx, chromedp.Navigate(u.String()))
		return err
	case DoClick, DoSubmit:
		sel := "a#" + a.Link
		if a.Do == DoSubmit {
			sel = "form#" + a.Form
		}
		present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector(`+browsertest.Quote(sel)+`)`))
		if err != nil {
			return err
		}
		if !present {
			if a.Optional {
				return errSkipped
			}
			return fmt.Errorf("no %s on the page: the scenario went another way in Chromium", sel)
		}
		js := `(()=>{document.querySelector(` + browsertest.Quote(sel) + `).click();return true})()`
		if a.Do == DoSubmit {
			for _, v := range a.Fields {
				if v == FieldNewID {
					return fmt.Errorf("submit %s: %s is not replayed in Chromium", a.Form, FieldNewID)
				}
			}
			fields, err := json.Marshal(a.Fields)
			if err != nil {
				return err
			}
			// Fields over the form's own inputs, as the virtual browser submits them.
			js = `(()=>{const f=document.querySelector(` + browsertest.Quote(sel) + `);` +
				`for (const [k,v] of Object.entries(` + string(fields) + `)) {` +
				`let i=f.elements.namedItem(k); if (!i) {i=document.createElement('input');i.type='hidden';i.name=k;f.appendChild(i)}` +
				`i.value=v}` +
				`f.submit();return true})()`
		}
		_, err = chromedp.RunResponse(ctx, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[bool](js)(ctx, tg)
			return chromedp.Void{}, err
		})
		return err
	case DoWait:
		// The scenario's time passing (a session timing out) is part of what it shows.
		return pause(ctx, a.Wait)
	}
	return fmt.Errorf("action %q is not replayed in Chromium", a.Do)
}

// devtoolsRecorder keeps the DevTools events of the lab's document requests: every
// hop of a navigation (redirects included) in the order Chromium sent them, with
// its requestWillBeSentExtraInfo (the cookies it considered, blocked ones with
// reasons) and responseReceivedExtraInfo (the Set-Cookie lines, refused ones with
// reasons). Each hop of a redirect chain has its own ExtraInfo events under the
// chain's requestId, in hop order.
type devtoolsRecorder struct {
	port string // the lab's: requests elsewhere (favicon, other tabs) are not the lab's

	mu    sync.Mutex
	hops  []hopRef
	count map[network.RequestID]int // hops seen per request
	req   map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo
	resp  map[network.RequestID][]*network.EventResponseReceivedExtraInfo
}

type hopRef struct {
	id          network.RequestID
	k           int // the hop's index in its redirect chain
	method, url string
}

func (r *devtoolsRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hops = nil
	r.count = map[network.RequestID]int{}
	r.req = map[network.RequestID][]*network.EventRequestWillBeSentExtraInfo{}
	r.resp = map[network.RequestID][]*network.EventResponseReceivedExtraInfo{}
}

// onEvent runs in chromedp's read loop: it only stores.
func (r *devtoolsRecorder) onEvent(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count == nil {
		return // before the first reset
	}
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Request == nil || e.Type != network.ResourceTypeDocument {
			return
		}
		u, err := url.Parse(e.Request.URL)
		if err != nil || u.Port() != r.port || !isLabHost(u.Hostname()) {
			return
		}
		r.hops = append(r.hops, hopRef{id: e.RequestID, k: r.count[e.RequestID], method: e.Request.Method, url: e.Request.URL})
		r.count[e.RequestID]++
	case *network.EventRequestWillBeSentExtraInfo:
		r.req[e.RequestID] = append(r.req[e.RequestID], e)
	case *network.EventResponseReceivedExtraInfo:
		r.resp[e.RequestID] = append(r.resp[e.RequestID], e)
	}
}

// complete reports whether every hop has both ExtraInfo events.
func (r *devtoolsRecorder) complete() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.hops {
		if h.k >= len(r.req[h.id]) || h.k >= len(r.resp[h.id]) {
			return false
		}
	}
	return true
}

// waitComplete waits for the ExtraInfo events, which DevTools may deliver after the
// page's load; the deadline only turns a hang into a failure.
func (r *devtoolsRecorder) waitComplete(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(browsertest.HangGuard)
	for !r.complete() {
		if time.Now().After(deadline) {
			t.Fatal("Chromium never reported the ExtraInfo events of every request")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verdicts turns the recorded events into hop verdicts, in request order.
func (r *devtoolsRecorder) verdicts() []hopVerdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hopVerdict
	for _, h := range r.hops {
		req, resp := r.req[h.id][h.k], r.resp[h.id][h.k]
		var sent []string
		var held []cookieVerdict
		for _, ac := range req.AssociatedCookies {
			if len(ac.BlockedReasons) == 0 {
				sent = append(sent, ac.Cookie.Name)
				continue
			}
			cv := cookieVerdict{name: ac.Cookie.Name}
			for _, br := range ac.BlockedReasons {
				cv.reasons = append(cv.reasons, cookies.Reason(br))
			}
			held = append(held, cv)
		}
		var set []cookieVerdict
		for _, line := range setCookieLines(resp.Headers) {
			name, _, _ := strings.Cut(line, "=")
			cv := cookieVerdict{name: name}
			for _, bc := range resp.BlockedCookies {
				if bc.CookieLine == line {
					for _, br := range bc.BlockedReasons {
						cv.reasons = append(cv.reasons, cookies.Reason(br))
					}
				}
			}
			set = append(set, cv)
		}
		out = append(out, newHop(h.method, h.url, sent, held, set))
	}
	return out
}

// setCookieLines are a response's Set-Cookie lines as DevTools reports the raw
// headers: several lines of one header joined with newlines.
func setCookieLines(h network.Headers) []string {
	var lines []string
	for k, v := range h {
		if s, ok := v.(string); ok && strings.EqualFold(k, "Set-Cookie") {
			lines = append(lines, strings.Split(s, "\n")...)
		}
	}
	return lines
}
