package diagnose

import (
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionscope/sessionscope/inspector/cookies"
	"github.com/sessionscope/sessionscope/inspector/framework"
	"github.com/sessionscope/sessionscope/inspector/model"
)

// The live HTTP-side rules: AnalyzeExchanges run on a proxy's exchanges as they
// arrive, one browser at a time, without replaying its whole history on each.

// maxExchangesPerClient bounds the history the live HTTP-side rules replay per
// browser: enough for a login loop to show.
const maxExchangesPerClient = 200

// maxClients bounds the browsers followed at once; past it, all but the current one
// are forgotten.
const maxClients = 1000

// Uneventful exchanges lead to a full replay of their client, which publishes the
// counts and last-seen times they changed, once recountAfter of them have come and
// recountMin has passed since its last replay (in its own traffic's time), or once
// recountMax has: often enough to keep findings current, rarely enough that a
// replay costs each exchange a small share.
const (
	recountAfter = maxExchangesPerClient
	recountMin   = 5 * time.Second
	recountMax   = 30 * time.Second
)

// liveTraffic runs the HTTP-side rules (AnalyzeExchanges: cookie-rejected,
// cookie-not-sent, login-loop, session-id-in-url, cookie-flags, ...) on proxied
// exchanges as they arrive. Each client (address and User-Agent) is one browser with
// its own cookie jar, as in a HAR.
//
// Replaying a client's whole history on every exchange costs up to
// maxExchangesPerClient replays per request, which made capture the proxy's
// bottleneck. So each client also has a liveClient: its jar stepped one exchange at a
// time, and what its kept history holds. An exchange the step finds eventful (a
// session cookie refused, held back, deleted or new; a redirect, 401 or 403; fresh
// session ids in a row; a session id in its URL or Referer; an injected header; a
// session Set-Cookie unlike the earlier ones) leads to a full replay of its client.
// The others can only add to the count and last-seen time of findings already
// published, or to what a value-decoding rule finds in a cookie value new to the
// history: their cookie verdicts are the step's (the step's jar has seen at least
// what the replay's window has, so it errs on the side of replaying), and the client
// is replayed again after a number of them (see recountAfter), which publishes those
// updates.
//
// A full replay costs milliseconds, and some traffic makes every exchange eventful:
// one address and User-Agent (a load test, an SPA, a NAT) with a session cookie per
// connection, or a client that never sends back the cookie it is given. So replays
// are bounded by a budget of CPU time (replayBudget), and coalesced per client:
// while the budget is full, an eventful exchange is replayed at once, on its own
// goroutine, and its findings are published with it (a developer's browser, a lab,
// the tests); once sustained traffic has drawn the budget down, the client is queued
// instead, replayed off the request path by one background worker as the budget
// refills, at most one replay of a client in flight and one more queued behind it,
// and what changed goes out with the engine's next Drain. Either way the exchange
// carries the step's cookie verdicts, which are the replay's while the history fits
// the window.
//
// One lock per client: a busy client never waits for another's replay, and the
// clients' map is locked only to find or add a client.
//
// It reports what changed; the engine keeps the findings (Engine.ObserveExchange).
type liveTraffic struct {
	opts AnalyzeOptions

	mu      sync.Mutex
	clients map[model.Client]*trafficClient // by browserOf
	queue   []*trafficClient                // clients owed a deferred replay, oldest first
	working bool                            // the worker goroutine runs

	pubMu     sync.Mutex
	published map[string]string // id -> signature of what was published
	gen       int               // bumped by forgetAll: a replay of an older snapshot publishes nothing

	budget replayBudget
	// deferred receives the findings a deferred replay changed; nil: dropped (the
	// published signatures still record them).
	deferred func([]*model.Finding)
	// queued counts the clients queued or being replayed by the worker (Pending).
	queued atomic.Int64
	// lastObserve is when observe last ran, in Unix nanoseconds: the worker paces its
	// replays only while exchanges come.
	lastObserve atomic.Int64
	// replays counts the full replays observe caused, at once or deferred, for tests
	// and benchmarks; deferredRuns the replays the worker ran (coalesced).
	replays, deferredRuns atomic.Int64
}

// trafficClient is one browser's kept history and stepped state.
type trafficClient struct {
	mu  sync.Mutex
	key model.Client
	// hist holds the exchanges observe annotated, whose slices the published
	// exchanges share: read-only, a replay annotates copies.
	hist []*model.Exchange
	lc   *liveClient
	// inQueue: a deferred replay is queued or running; again: the client was
	// triggered after the running replay took its snapshot, so it is replayed once more.
	inQueue, again bool
	// replaying: a request of the client is replaying it at once.
	replaying bool
}

func newLiveTraffic(opts AnalyzeOptions) *liveTraffic {
	return &liveTraffic{opts: opts, clients: map[model.Client]*trafficClient{}, published: map[string]string{},
		budget: newReplayBudget(replayShare, replayBurst)}
}

// The replay budget: the share of one CPU the full replays may take in the long run,
// and how much replay time may be spent at once after a quiet spell. A replay of a
// full history takes a few milliseconds, so the share allows about ten a second in
// all, a few percent of the proxy's CPU under load; the burst covers a developer's
// clicking and every test flow, which are replayed at once.
// idleAfter is how long without an exchange before the worker stops pacing.
const idleAfter = 20 * time.Millisecond

const (
	replayShare = 0.03
	replayBurst = 200 * time.Millisecond
)

// replayBudget is a token bucket of replay CPU time: it refills at share of one CPU,
// up to burst; a replay is charged what it took.
type replayBudget struct {
	mu          sync.Mutex
	share       float64
	burst, left time.Duration
	at          time.Time
}

func newReplayBudget(share float64, burst time.Duration) replayBudget {
	return replayBudget{share: share, burst: burst, left: burst}
}

func (b *replayBudget) refill(now time.Time) {
	if !b.at.IsZero() && now.After(b.at) {
		b.left = min(b.burst, b.left+time.Duration(b.share*float64(now.Sub(b.at))))
	}
	b.at = now
}

// plenty reports whether at least half the burst is left: replays are not being
// paced, so this one may run on the request's goroutine.
func (b *replayBudget) plenty(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.burst > 0 && b.left >= b.burst/2
}

// wait is how long until there is budget for a replay.
func (b *replayBudget) wait(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.left >= 0 || b.share <= 0 {
		return 0
	}
	return time.Duration(float64(-b.left)/b.share) + time.Millisecond
}

// charge takes d from the budget. The debt is capped at one burst: the replays the
// worker catches up on while no exchange comes are not held against the next traffic
// for long.
func (b *replayBudget) charge(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left = max(b.left-d, -b.burst)
}

// ObserveExchange runs the HTTP-side rules on a proxied exchange as it arrives. It
// returns a copy of the exchange annotated with the browser's cookie verdicts, and
// the findings the exchange created or changed. The engine keeps those findings with
// the store side's; the caller publishes them right after the exchange and reports
// their seq with Published. Findings of a replay deferred under load go out with a
// later Drain instead (see liveTraffic). Safe from any goroutine.
func (e *Engine) ObserveExchange(x *model.Exchange) (*model.Exchange, []*model.Finding) {
	annotated, changed := e.traffic.observe(x)
	e.keep(changed, false)
	return annotated, changed
}

// replayClient re-runs the HTTP-side rules over one client's kept history once a
// store-side cause was found for one of its exchanges, so that its login-loop
// finding names the cause. What changed goes out with the next Drain.
func (e *Engine) replayClient(c model.Client) {
	e.keep(e.traffic.replay(c), true)
}

// keep stores findings of a replay: a replay reports a finding whole, so it replaces
// what an earlier replay (of this client or another) said of the same cause, unless
// that was a newer sighting. Either way the count and first sighting merge. fs's
// findings are updated to what is kept. dirty marks them for Drain; otherwise the
// caller publishes them.
func (e *Engine) keep(fs []*model.Finding, dirty bool) {
	if len(fs) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range fs {
		f.Time = f.LastSeen
		old := e.findings[f.ID]
		if old != nil && old.LastSeen.After(f.LastSeen) {
			// An older sighting: another client's history, replayed after a newer one
			// (the deferred worker and store-side causes replay clients in any order).
			// The finding goes on describing its newest sighting.
			count, first := f.Count, f.FirstSeen
			*f = *old
			f.Count, f.FirstSeen = count, first
		}
		if old != nil {
			// A replay sees only its client's kept history: what an earlier replay saw
			// (an occurrence that left the history, another client's) still happened,
			// so the finding keeps its first sighting and its count does not go down.
			if !old.FirstSeen.IsZero() && old.FirstSeen.Before(f.FirstSeen) {
				f.FirstSeen = old.FirstSeen
			}
			f.Count = max(f.Count, old.Count)
		}
		c := *f
		c.Sessions = append([]string(nil), f.Sessions...)
		c.Evidence = append([]string(nil), f.Evidence...)
		c.Exchanges = append([]string(nil), f.Exchanges...)
		c.Events = append([]uint64(nil), f.Events...)
		if old != nil {
			c.Seq = old.Seq // until Published says otherwise
		}
		e.findings[f.ID] = &c
		if dirty {
			e.dirty[f.ID] = true
		}
	}
}

// browserOf is the key one browser's exchanges share: its source IP and
// User-Agent. The port is dropped because a browser opens a new connection (a new
// source port) whenever it likes, and a login loop spans several.
func browserOf(c model.Client) model.Client {
	if host, _, err := net.SplitHostPort(c.Addr); err == nil {
		c.Addr = host
	}
	return c
}

// client finds or adds the browser key.
func (r *liveTraffic) client(key model.Client) *trafficClient {
	r.mu.Lock()
	defer r.mu.Unlock()
	tc := r.clients[key]
	if tc == nil {
		tc = &trafficClient{key: key, lc: newLiveClient()}
		if len(r.clients) >= maxClients { // many distinct clients: forget the others
			clear(r.clients)
		}
		r.clients[key] = tc
	}
	return tc
}

// observe adds an exchange and returns it annotated with the cookie verdicts (a copy
// of its own) and the findings that are new or changed.
//
// The history keeps its own copy, annotated under the client's lock before anyone
// else sees it. What is handed out shares that copy's slices, which nothing writes
// after the annotation (a replay annotates copies of the history, see cloneHistory),
// but not its struct: publishing stamps the exchange's Seq. A second full Clone of
// every exchange was a measurable share of the proxy's CPU and garbage.
func (r *liveTraffic) observe(x *model.Exchange) (*model.Exchange, []*model.Finding) {
	own := x.Clone() // the caller keeps x
	r.lastObserve.Store(time.Now().UnixNano())
	tc := r.client(browserOf(x.Client))
	tc.mu.Lock()
	hist := append(tc.hist, own)
	if len(hist) > maxExchangesPerClient {
		clear(hist[:len(hist)-maxExchangesPerClient]) // let the exchanges that left go
		hist = hist[len(hist)-maxExchangesPerClient:]
	}
	tc.hist = hist
	lc := tc.lc
	lc.arrive(len(hist))
	// While the budget is full the step follows the replay's order exactly, rebuilding
	// its jar when an exchange arrives out of order; under load it follows the order
	// of arrival, which concurrent requests of one client change all the time (a
	// rebuild costs about what a replay does), and leaves the rest to the replay.
	now := time.Now()
	plenty := r.budget.plenty(now)
	quiet, ann := lc.step(own, hist, r.isSession, plenty)
	if lc.rebuilt {
		lc.rebuilt = false
		r.budget.charge(time.Since(now))
	}
	if quiet {
		lc.pending++
		since := own.Start.Sub(lc.replayed)
		if !(lc.pending >= recountAfter && since >= recountMin || since >= recountMax) {
			ann.apply(own, r.opts.Mapping)
			out := *own
			tc.mu.Unlock()
			return &out, nil
		}
	}
	lc.replayed, lc.pending = own.Start, 0
	r.replays.Add(1)
	if !plenty || tc.inQueue || tc.replaying {
		ann.apply(own, r.opts.Mapping)
		out := *own
		r.deferReplay(tc)
		tc.mu.Unlock()
		return &out, nil
	}
	// Replay now, on a copy of the history, so that the client's other requests go
	// on meanwhile; one such replay of a client at a time.
	tc.replaying = true
	snapshot := cloneHistory(hist)
	tc.mu.Unlock()
	t0 := time.Now()
	changed := r.replayHistory(snapshot)
	r.budget.charge(time.Since(t0))
	tc.mu.Lock()
	tc.replaying = false
	tc.mu.Unlock()
	return snapshot[len(snapshot)-1], changed // own's copy, annotated by the replay
}

// cloneHistory copies hist's exchanges for a replay, which annotates them.
func cloneHistory(hist []*model.Exchange) []*model.Exchange {
	out := make([]*model.Exchange, len(hist))
	for i, h := range hist {
		out[i] = replayCopy(h)
	}
	return out
}

// replayCopy copies x as far as a replay writes to it: its CookiesBlocked and each
// Set-Cookie's Stored and Reason (AnalyzeExchanges). The rest (cookies sent, the
// Set-Cookies' Expires and Max-Age) is shared: nothing writes it. A full Clone of
// every exchange of the history made the copy a good share of a replay's garbage.
func replayCopy(x *model.Exchange) *model.Exchange {
	c := *x
	c.CookiesBlocked = slices.Clone(x.CookiesBlocked)
	c.SetCookies = slices.Clone(x.SetCookies)
	return &c
}

// deferReplay queues tc for the worker, or marks it to be replayed once more if its
// replay is already queued or running. tc.mu is held.
func (r *liveTraffic) deferReplay(tc *trafficClient) {
	if tc.inQueue {
		tc.again = true
		return
	}
	tc.inQueue = true
	r.queued.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = append(r.queue, tc)
	if !r.working {
		r.working = true
		go r.work()
	}
}

// work replays the queued clients one at a time, as the budget allows, and returns
// when the queue is empty. It runs on its own goroutine: a replay never holds up a
// request, nor the client's lock beyond copying its history.
func (r *liveTraffic) work() {
	for {
		r.mu.Lock()
		if len(r.queue) == 0 {
			r.working = false
			r.mu.Unlock()
			return
		}
		tc := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.mu.Unlock()
		// Pace the replays while exchanges keep coming (the budget refills meanwhile);
		// once the traffic stops there is nothing to hold up, so catch up at once.
		for {
			now := time.Now()
			d := r.budget.wait(now)
			if d <= 0 || now.Sub(time.Unix(0, r.lastObserve.Load())) > idleAfter {
				break
			}
			time.Sleep(min(d, idleAfter))
		}
		r.pubMu.Lock()
		gen := r.gen
		r.pubMu.Unlock()
		tc.mu.Lock()
		snapshot := cloneHistory(tc.hist) // the replay annotates; the history stays the request path's
		tc.again = false
		tc.mu.Unlock()
		t0 := time.Now()
		found := AnalyzeExchanges(snapshot, r.opts)
		r.budget.charge(time.Since(t0))
		r.deferredRuns.Add(1)
		r.pubMu.Lock()
		if r.gen == gen { // else Clear came after the snapshot: what it found is forgotten
			if changed := r.changed(found); len(changed) > 0 && r.deferred != nil {
				r.deferred(changed)
			}
		}
		r.pubMu.Unlock()
		tc.mu.Lock()
		if tc.again {
			tc.again = false
			r.mu.Lock()
			r.queue = append(r.queue, tc)
			r.mu.Unlock()
		} else {
			tc.inQueue = false
			r.queued.Add(-1)
		}
		tc.mu.Unlock()
	}
}

// forgetAll forgets every client's history and what was published (Engine.Clear).
// A deferred replay already running publishes nothing.
func (r *liveTraffic) forgetAll() {
	r.mu.Lock()
	clear(r.clients)
	r.mu.Unlock()
	r.pubMu.Lock()
	r.gen++
	clear(r.published)
	r.pubMu.Unlock()
}

// pending is the number of clients owed a deferred replay.
func (r *liveTraffic) pending() int { return int(r.queued.Load()) }

// replay re-runs the HTTP-side rules over one client's kept history, without a new
// exchange, and returns the findings that are new or changed. It is how a store-side
// cause found after the fact reaches the client's login-loop finding.
func (r *liveTraffic) replay(c model.Client) []*model.Finding {
	r.mu.Lock()
	tc := r.clients[browserOf(c)]
	r.mu.Unlock()
	if tc == nil {
		return nil
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.hist) == 0 {
		return nil
	}
	return r.replayHistory(cloneHistory(tc.hist)) // the history's exchanges are published: the replay annotates copies
}

// replayHistory runs AnalyzeExchanges over hist and returns the findings whose
// count, last sighting or detail differ from what was last published. Nothing else
// may touch hist's exchanges meanwhile: the replay annotates them.
func (r *liveTraffic) replayHistory(hist []*model.Exchange) []*model.Finding {
	found := AnalyzeExchanges(hist, r.opts)
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	return r.changed(found)
}

// changed records found as published and returns those that differ from what was
// published before. r.pubMu is held.
func (r *liveTraffic) changed(found []model.Finding) []*model.Finding {
	var changed []*model.Finding
	for _, f := range found {
		sig := f.LastSeen.String() + "|" + strconv.Itoa(f.Count) + "|" + f.Detail
		if r.published[f.ID] == sig {
			continue
		}
		r.published[f.ID] = sig
		f := f
		changed = append(changed, &f)
	}
	return changed
}

func (r *liveTraffic) isSession(name string) bool {
	return framework.IsSessionCookieName(name, r.opts.Cookies)
}

// liveClient is one browser as the exchanges so far leave it.
type liveClient struct {
	jar      *cookies.Jar
	top      *url.URL  // the last page load, the site for cookies of what follows
	last     time.Time // Start of the newest exchange
	replayed time.Time // Start of the exchange last replayed in full
	pending  int       // uneventful exchanges since then
	// next is the number the client's next exchange gets, in order of arrival, and
	// oldest the number of the oldest exchange in the kept history. What the kept
	// history holds is known by the number of the newest exchange that brought it:
	// it is held while that number is not below oldest. An exchange that leaves the
	// history is not visited again (it counted each thing down, from memory long
	// gone cold: a good share of the step's time under load); what it alone brought
	// is dropped from the maps now and then (prune).
	next, oldest int
	// ids are the session cookie values in the kept history, each with the cookie
	// that carried it last, which session-id-in-url names.
	ids map[string]idSeen
	// kept is what else the rules look at in the kept history: session Set-Cookie
	// values and lines (value left out) by origin, every cookie by origin and value,
	// and where the jar sent each session cookie (cookie-flags tells a cookie shared
	// across subdomains by where it went). The value is the number of the newest
	// exchange that brought it.
	kept map[keptKey]int
	// prevIssued is the session cookie the last page load was given (zero: none), and
	// fresh how many page loads in a row were each given a different one.
	prevIssued issuedCookie
	fresh      int
	// replayOnly is set when the step cannot follow the jar (a Set-Cookie without its
	// line): from then on every exchange is replayed in full.
	replayOnly bool
	// sentOn is set by a page that may redirect by itself (a script or a meta
	// refresh): whether it refused the user shows only in the page load after it.
	sentOn bool
	// rebuilt is set by a step that rebuilt the jar, which costs what a replay does.
	rebuilt bool
}

// issuedCookie is a session cookie a response set, by name and value (not joined:
// that cost an allocation an exchange); zero: none.
type issuedCookie struct{ name, value string }

// idSeen is a session cookie value of the kept history: the cookie that carried it
// last, and the number of the newest exchange that did.
type idSeen struct {
	name string
	at   int
}

func newLiveClient() *liveClient {
	return &liveClient{jar: &cookies.Jar{}, ids: map[string]idSeen{}, kept: map[keptKey]int{}}
}

// arrive numbers a new exchange, the newest of a kept history of n.
func (lc *liveClient) arrive(n int) {
	lc.next++
	lc.oldest = lc.next - n
	if lc.next%maxExchangesPerClient == 0 {
		lc.prune()
	}
}

// prune drops from the maps what only exchanges that left the history brought.
func (lc *liveClient) prune() {
	maps.DeleteFunc(lc.kept, func(_ keptKey, at int) bool { return at < lc.oldest })
	maps.DeleteFunc(lc.ids, func(_ string, s idSeen) bool { return s.at < lc.oldest })
}

// mark notes that the exchange numbered at brings key, and reports whether the kept
// history did not hold it.
func (lc *liveClient) mark(key keptKey, at int) (fresh bool) {
	was, ok := lc.kept[key]
	if !ok || at > was {
		lc.kept[key] = at
	}
	return !ok || was < lc.oldest
}

// id is the cookie that last carried a session cookie value of the kept history,
// "" if it holds none.
func (lc *liveClient) id(value string) string {
	if s, ok := lc.ids[value]; ok && s.at >= lc.oldest {
		return s.name
	}
	return ""
}

// minLiveIDLength is the shortest cookie value looked for in URLs. It is below
// diagnose's threshold for session-id-in-url, so the step notices every value that
// rule could.
const minLiveIDLength = 8

// annotation is what the replay writes on an exchange, as the step's jar sees it:
// the verdict on each session Set-Cookie and the session cookies held back.
type annotation struct {
	u        *url.URL
	verdicts []verdict         // by Set-Cookie; zero (not judged) for the others
	blocked  []cookies.Blocked // session cookies the jar held back, with reasons
}

// verdict is what an annotation keeps of the jar's cookies.Verdict on a session
// Set-Cookie. The whole Verdict (the cookie, the parsed line) escaped to the heap
// for every exchange, for the three fields the annotation reads.
type verdict struct {
	judged, stored, deleted bool
	reason                  cookies.Reason // the first reason it was refused, "" none
}

// apply writes a on x as AnalyzeExchanges does. A zero annotation (the step could
// not follow x) leaves x as it is.
func (a annotation) apply(x *model.Exchange, mapping func(name, value string) (string, bool)) {
	if a.u == nil {
		return
	}
	x.CookiesBlocked = nil
	for _, b := range a.blocked {
		_, why, _ := notSentText(b.Reasons[0], b.Cookie, &replayed{x: x, u: a.u})
		ref := ""
		if mapping != nil && !x.ValuesStripped {
			ref, _ = mapping(b.Cookie.Name, b.Cookie.Value)
		}
		x.CookiesBlocked = append(x.CookiesBlocked, model.BlockedCookie{
			Name: b.Cookie.Name, SessionRef: ref, Reason: string(b.Reasons[0]), Detail: why})
	}
	for i, v := range a.verdicts {
		if !v.judged || i >= len(x.SetCookies) {
			continue
		}
		stored := v.stored || v.deleted
		x.SetCookies[i].Stored = &stored
		if v.reason != "" {
			x.SetCookies[i].Reason = string(v.reason)
		}
	}
}

// step advances the client by x, as AnalyzeExchanges replays it, and reports
// whether x is uneventful, with the cookie verdicts the step's jar gives it. hist is
// the kept history, x last.
func (lc *liveClient) step(x *model.Exchange, hist []*model.Exchange, isSession func(string) bool, exact bool) (bool, annotation) {
	// header-injection; duplicate-cookie: a session cookie name sent twice
	quiet := !lc.replayOnly && len(x.InjectedHeaders) == 0 && !sentTwice(x, isSession)
	at := lc.next - 1 // x is the newest
	moved := lc.addIDs(x, at, isSession)
	if lc.remember(x, at, isSession) {
		quiet = false // a cookie value or session Set-Cookie line new to the history
	}
	u, err := url.Parse(x.RawURL)
	if err != nil || u.Host == "" {
		return quiet, annotation{} // the replay skips it too
	}
	if x.Start.Before(lc.last) {
		if exact {
			// Out of order (the replay sorts by start): follow the replay's order from now on.
			ann := lc.rebuild(hist, x, isSession)
			lc.rebuilt = true
			return false, ann
		}
		// Taken in the order it came: the jar may differ from the replay's, so the
		// replay decides.
		ann, _ := lc.advance(x, u, at, isSession)
		return false, ann
	}
	lc.last = x.Start
	ann, sentNew := lc.advance(x, u, at, isSession)
	if len(ann.blocked) > 0 || lc.replayOnly {
		return false, ann // cookie-not-sent, and the annotation needs the rule's words
	}
	if sentNew {
		quiet = false // a session cookie sent somewhere new (cookie-flags' Domain)
	}
	for _, v := range ann.verdicts {
		if v.reason != "" || v.deleted {
			return false, ann // cookie-rejected; a deletion of what the window may not hold
		}
	}
	if isNavigation(x, u) {
		prev := lc.sentOn
		lc.sentOn = x.ClientRedirect && x.Status >= 200 && x.Status < 300
		if prev {
			return false, ann // login-loop: the page before may have sent the browser here by script
		}
	}
	if x.Status >= 300 && x.Status < 400 || x.Status == 401 || x.Status == 403 || x.LoginForm {
		return false, ann // login-loop: a redirect, a refusal, or the login form in a page's place
	}
	if loginWithoutSession(x, u, isSession) {
		return false, ann // no-session: a login that got no session cookie
	}
	// login-loop's other sign: a fresh session cookie on consecutive page loads. The
	// replay's window may start such a streak one page load later, hence 2.
	if lc.fresh >= 2 {
		return false, ann
	}
	if !quiet || lc.idInURL(u, x, moved, hist, isSession) {
		return false, ann
	}
	if x.RawReferer != "" { // session-id-in-url, in the Referer
		if ru, err := url.Parse(x.RawReferer); err == nil && ru.Host != "" && lc.idInURL(ru, x, nil, nil, isSession) {
			return false, ann
		}
	}
	return true, ann
}

// origin is the scheme and host of a raw URL as written, which cookie rules tell
// cookies apart by (case and port are kept: finer is safe).
func origin(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	if j := strings.IndexAny(raw[i+3:], "/?#"); j >= 0 {
		return raw[:i+3+j]
	}
	return raw
}

// keptKey is something the rules look at in the kept history: a cookie value ('v'),
// a session Set-Cookie line without its value ('l', value holds the attributes), a
// session cookie the jar sent to a host ('j').
type keptKey struct {
	kind               byte
	where, name, value string
}

// keptKeys calls f with what x adds to the kept history: each cookie value by origin
// and name (value-decoding rules, weak-session-id), each session Set-Cookie line
// without its value (cookie-flags).
func keptKeys(x *model.Exchange, isSession func(string) bool, f func(keptKey)) {
	o := origin(x.RawURL)
	for _, c := range x.SetCookies {
		if c.ParseError != "" || c.Value == "" || c.MaxAge != nil && *c.MaxAge == 0 || c.Expires != nil && c.Expires.Before(x.Start) {
			continue // a deletion, which these rules pass over
		}
		f(keptKey{'v', o, c.Name, c.Value})
		if isSession(c.Name) {
			attrs := ""
			if _, rest, ok := strings.Cut(c.Raw, ";"); ok {
				attrs = rest
			}
			f(keptKey{'l', o, c.Name, attrs})
		}
	}
	for _, c := range x.CookiesSent {
		f(keptKey{'v', o, c.Name, c.Value})
	}
}

// remember notes what x, numbered at, adds to the kept history and reports whether
// any of it is new there.
func (lc *liveClient) remember(x *model.Exchange, at int, isSession func(string) bool) (fresh bool) {
	keptKeys(x, isSession, func(key keptKey) {
		if lc.mark(key, at) {
			fresh = true
		}
	})
	return fresh
}

// advance takes x through the jar: the verdict on each session Set-Cookie and the
// session cookies it holds back (x's annotation), and whether it sends a session
// cookie to a host it went to nowhere else in the history.
func (lc *liveClient) advance(x *model.Exchange, u *url.URL, at int, isSession func(string) bool) (ann annotation, sentNew bool) {
	ann.u = u
	nav := isNavigation(x, u)
	if nav {
		lc.top = u
	}
	ctx := cookies.Context{URL: u, Method: x.Method, TopLevelNav: nav, Now: x.Start}
	if !nav {
		ctx.SiteForCookies = lc.top
	} else {
		ctx.Initiator = navigationInitiator(x)
	}
	sent, blocked := lc.jar.Send(ctx)
	for _, c := range sent {
		if isSession(c.Name) && lc.mark(keptKey{kind: 'j', where: u.Host, name: c.Name}, at) {
			sentNew = true
		}
	}
	for _, b := range blocked {
		if isSession(b.Cookie.Name) && len(b.Reasons) > 0 {
			ann.blocked = append(ann.blocked, b)
		}
	}
	var issued issuedCookie
	ann.verdicts = make([]verdict, len(x.SetCookies))
	for i, sc := range x.SetCookies {
		if sc.Raw == "" {
			lc.replayOnly = true
			continue
		}
		v := lc.jar.Store(ctx, sc.Raw)
		if !isSession(sc.Name) {
			continue
		}
		ann.verdicts[i] = verdict{judged: true, stored: v.Stored, deleted: v.Deleted}
		if len(v.Reasons) > 0 {
			ann.verdicts[i].reason = v.Reasons[0]
		}
		if len(v.Reasons) == 0 && v.Stored && sc.Value != "" && (sc.MaxAge == nil || *sc.MaxAge > 0) {
			issued = issuedCookie{sc.Name, sc.Value}
		}
	}
	if nav {
		if issued == (issuedCookie{}) || issued == lc.prevIssued {
			lc.fresh = 0
		} else {
			lc.fresh++
		}
		lc.prevIssued = issued
	}
	return ann, sentNew
}

// rebuild replays the kept history into a fresh jar in the replay's order, and
// returns x's annotation at its place in that order.
func (lc *liveClient) rebuild(hist []*model.Exchange, x *model.Exchange, isSession func(string) bool) annotation {
	xs := slices.Clone(hist)
	sort.SliceStable(xs, func(i, j int) bool { return xs[i].Start.Before(xs[j].Start) })
	fresh := newLiveClient()
	fresh.replayOnly, fresh.replayed, fresh.pending = lc.replayOnly, lc.replayed, lc.pending
	fresh.next, fresh.oldest = lc.next, lc.oldest
	number := make(map[*model.Exchange]int, len(hist)) // in order of arrival, as hist holds them
	for i, h := range hist {
		number[h] = lc.oldest + i
	}
	var ann annotation
	for _, h := range xs {
		at := number[h]
		fresh.addIDs(h, at, isSession)
		fresh.remember(h, at, isSession)
		if u, err := url.Parse(h.RawURL); err == nil && u.Host != "" {
			a, _ := fresh.advance(h, u, at, isSession)
			if h == x {
				ann = a
			}
			if isNavigation(h, u) {
				fresh.sentOn = h.ClientRedirect && h.Status >= 200 && h.Status < 300
			}
		}
		if h.Start.After(fresh.last) {
			fresh.last = h.Start
		}
	}
	*lc = *fresh
	return ann
}

// sessionValues calls f with each session cookie of x whose value is long enough to
// look for, in the order the replay visits them.
func sessionValues(x *model.Exchange, isSession func(string) bool, f func(name, value string)) {
	for _, c := range x.CookiesSent {
		if len(c.Value) >= minLiveIDLength && isSession(c.Name) {
			f(c.Name, c.Value)
		}
	}
	for _, c := range x.SetCookies {
		if len(c.Value) >= minLiveIDLength && isSession(c.Name) {
			f(c.Name, c.Value)
		}
	}
}

// addIDs notes x's session cookie values (x numbered at) and returns those new to
// the history or now last carried by another cookie: a URL that holds one gets a new
// finding.
func (lc *liveClient) addIDs(x *model.Exchange, at int, isSession func(string) bool) []string {
	type was struct{ value, name string } // the cookie that carried it before x
	var few [4]was                        // an exchange carries one or two: no allocation
	before := few[:0]
	sessionValues(x, isSession, func(name, value string) {
		if !slices.ContainsFunc(before, func(w was) bool { return w.value == value }) {
			before = append(before, was{value, lc.id(value)}) // name "" when new
		}
		lc.ids[value] = idSeen{name: name, at: max(lc.ids[value].at, at)}
	})
	var moved []string
	for _, w := range before {
		if w.name != lc.ids[w.value].name {
			moved = append(moved, w.value)
		}
	}
	return moved
}

// idInURL reports whether x's URL may carry a session id: a query parameter named
// like a session cookie, or a known session cookie value in its query or path; or
// whether a value that moved with x appears in an earlier URL of the history.
func (lc *liveClient) idInURL(u *url.URL, x *model.Exchange, moved []string, hist []*model.Exchange, isSession func(string) bool) bool {
	if u.RawQuery != "" {
		for param := range u.Query() {
			if isSession(param) {
				return true
			}
		}
	}
	for v, s := range lc.ids {
		if s.at < lc.oldest {
			continue // left the history
		}
		if strings.Contains(u.RawQuery, v) || strings.Contains(u.Path, v) {
			return true
		}
	}
	for _, v := range moved {
		for _, h := range hist {
			if h == x {
				continue
			}
			for _, raw := range []string{h.RawURL, h.RawReferer} {
				if strings.Contains(raw, v) {
					return true
				}
				if strings.Contains(raw, "%") { // the rule looks at the decoded path
					if hu, err := url.Parse(raw); err == nil && strings.Contains(hu.Path, v) {
						return true
					}
				}
			}
		}
	}
	return false
}
