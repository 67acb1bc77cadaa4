package inspector_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/sessionscope/sessionscope/inspector/backend"
	"github.com/sessionscope/sessionscope/inspector/cookies/browsertest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// These tests drive the real PHP app (phpredis session handler) at curl speed and in
// real Chromium, and hold sessionscope's events against what Redis really ran, read
// from MONITOR: one command on a session key is one event, however close the commands.
//
// What phpredis 5.3.7 sends for the pages used here (read from MONITOR; every request
// also GETs its session first):
//
//	login_page.php        SETEX A  csrf, return_to                 (a new session)
//	login.php?regen=true  DEL A; SETEX B  csrf, return_to, user_id
//	dashboard.php         EXPIRE B 1440                           (lazy write: data unchanged)
//	logout.php            DEL B
//	regen_keep.php        SETEX A (+user_id); SETEX B (same data)  (regenerate(false))
//	bump.php              SETEX K  n|i:<n>;                        (every request changes n)

// phpFlowTTL is the TTL phpredis gives the sessions (session.gc_maxlifetime).
const phpFlowTTL = traffictest.PHPSessionTTL

// phpHealthyCookie are ini settings under which the PHP app's session cookie has every
// attribute a session cookie needs, so the cookie-flags rule has nothing to say and a
// healthy flow seen through the proxy can be held to zero findings. Secure is fine on
// http://127.0.0.1: browsers count loopback as a secure context. Go's cookie jar does
// not, hence only the Chromium flows use it.
var phpHealthyCookie = []string{"session.cookie_httponly=1", "session.cookie_samesite=Lax", "session.cookie_secure=1"}

// TestPHPRedisFlowsCurlSpeed drives the PHP app with a plain HTTP client, requests
// back to back, so that several commands on one key fall within one correlation window.
func TestPHPRedisFlowsCurlSpeed(t *testing.T) {
	t.Run("regenerate(true) login, then two dashboard reads and logout", func(t *testing.T) {
		t.Parallel()
		h, probe, app := startPHPFlow(t)
		c := app.NewClient()
		ids := curlLoginFlow(t, c, "/login_page.php")
		cmds := probe.settle()

		a, b := app.Key(ids.anon), app.Key(ids.user)
		wantMonitored(t, cmds, a, "SETEX DEL")
		wantMonitored(t, cmds, b, "SETEX EXPIRE EXPIRE DEL")
		assertLoginFlowEvents(t, h, a, b, model.EvidencePayload, linkUnlessUnread)
		assertEventTimeOrder(t, h)
		assertNoFindingsAfterStop(t, h)
	})

	t.Run("regenerate(true) when the anonymous session holds only a CSRF token", func(t *testing.T) {
		// A CSRF token is a rotating field: sharing it proves nothing, so the store alone
		// cannot decide. Either the link is right, or the new session is created with
		// the true predecessor among its candidates; never a link to another session.
		t.Parallel()
		h, probe, app := startPHPFlow(t)
		ids := curlLoginFlow(t, app.NewClient(), "/index.php")
		probe.settle()

		assertLoginFlowEvents(t, h, app.Key(ids.anon), app.Key(ids.user), model.EvidencePayload, mayLeaveUnlinked)
		assertEventTimeOrder(t, h)
		assertNoFindingsAfterStop(t, h)
	})

	t.Run("regenerate(false) right after the session was born", func(t *testing.T) {
		t.Parallel()
		h, probe, app := startPHPFlow(t)
		c := app.NewClient()
		anon := phpGet(t, c, "/login_page.php")
		r, err := c.PostForm("/regen_keep.php", url.Values{})
		if err != nil || r.Status != 200 || r.SessionID == "" || r.SessionID == anon.SessionID {
			t.Fatalf("regen_keep.php: %+v, %v; want 200 and a new session id", r, err)
		}
		cmds := probe.settle()

		a, b := app.Key(anon.SessionID), app.Key(r.SessionID)
		wantMonitored(t, cmds, a, "SETEX SETEX")
		wantMonitored(t, cmds, b, "SETEX")
		if got := kinds(h.Events(a)); got != "created updated" {
			t.Errorf("old session: events %q, want %q (its birth, then the rewrite with user_id; never destroyed)", got, "created updated")
		}
		if up := firstOfKind(h, a, model.KindUpdated); up != nil {
			checkChanged(t, up, "user_id")
		}
		if got := kinds(h.Events(b)); got != "regenerated" {
			t.Errorf("new session: events %q, want %q", got, "regenerated")
		}
		if regen := firstOfKind(h, b, model.KindRegenerated); regen != nil {
			if regen.From == nil || regen.From.Ref != refOfKey(a) || !regen.OldKept || regen.Evidence != model.EvidencePayload {
				t.Errorf("regenerated: from %+v old_kept %v evidence %q; want from %s, old_kept true, evidence payload",
					regen.From, regen.OldKept, regen.Evidence, refOfKey(a))
			}
		}
		assertEventTimeOrder(t, h)
		fs := h.findingsAfterStop()
		if got := rules(fs); !slices.Equal(got, []string{"old-session-kept"}) {
			t.Fatalf("findings %v, want exactly [old-session-kept]", got)
		}
		if cited := fs[0].Sessions; !slices.Contains(cited, refOfKey(a)) && !slices.Contains(cited, refOfKey(b)) {
			t.Errorf("old-session-kept cites %v, want the kept session %s or its successor %s", cited, refOfKey(a), refOfKey(b))
		}
	})

	t.Run("five writes back to back", func(t *testing.T) {
		t.Parallel()
		h, probe, app := startPHPFlow(t)
		c := app.NewClient()
		var id string
		for i := 1; i <= 5; i++ {
			r := phpGet(t, c, "/bump.php")
			if want := fmt.Sprintf("n=%d\n", i); r.Body != want {
				t.Fatalf("bump %d answered %q, want %q", i, r.Body, want)
			}
			id = r.SessionID
		}
		cmds := probe.settle()

		key := app.Key(id)
		wantMonitored(t, cmds, key, "SETEX SETEX SETEX SETEX SETEX")
		want := strings.Join(monitoredKinds(cmds)[key], " ")
		if want != "created updated updated updated updated" {
			t.Errorf("MONITOR's commands read as %q, want created + 4 updated", want)
		}
		evs := h.Events(key)
		if got := kinds(evs); got != want {
			t.Errorf("events %q, want one per command as MONITOR saw them: %q", got, want)
		}
		for _, e := range evs {
			if e.Kind == model.KindUpdated {
				checkChanged(t, e, "n")
			}
		}
		assertEventTimeOrder(t, h)
		assertNoFindingsAfterStop(t, h)
	})
}

// TestPHPRedisFlowsChromium runs the regenerate(true) login flow in real Chromium,
// straight to the app and through the capturing proxy, whose exchanges decide the
// regeneration (evidence http) and name the request behind each event.
func TestPHPRedisFlowsChromium(t *testing.T) {
	for _, tc := range []struct {
		name     string
		proxy    bool
		evidence string
		link     linkRule
	}{
		{"direct", false, model.EvidencePayload, linkUnlessUnread},
		{"through the capturing proxy", true, model.EvidenceHTTP, mustLink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, probe, app := startPHPFlow(t, phpHealthyCookie...)
			base := app.BaseURL
			if tc.proxy {
				base = proxyFor(t, h, false, app.BaseURL)
			}
			br := browsertest.New(t)

			br.Navigate(base + "/login_page.php")
			anon := br.Cookies(base)[traffictest.PHPCookie]
			if anon == "" {
				t.Fatalf("no %s cookie after the login page", traffictest.PHPCookie)
			}
			resp := br.Load(chromedp.Click(browsertest.TestID("login")))
			user := br.Cookies(base)[traffictest.PHPCookie]
			if resp.Status != 200 || !strings.HasSuffix(resp.URL, "/dashboard.php") || user == "" || user == anon {
				t.Fatalf("login ended at %s (%d) with session cookie %q; want the dashboard and a new id", resp.URL, resp.Status, user)
			}
			if r := br.Navigate(base + "/dashboard.php"); r.Status != 200 {
				t.Fatalf("second dashboard read: %d", r.Status)
			}
			// fetch with redirect "manual": the logout's redirect to index.php is not
			// followed, so no fresh anonymous session appears (as in the curl flow).
			if got := browsertest.EvalAsync[string](br, `fetch("logout.php", {method: "POST", redirect: "manual"}).then(r => r.type)`); got != "opaqueredirect" {
				t.Fatalf("logout answered %q, want the redirect", got)
			}
			if tc.proxy {
				h.Wait("the logout exchange", func(o model.Object) bool {
					x, ok := o.(*model.Exchange)
					return ok && x.Method == "POST" && strings.HasSuffix(x.URL, "/logout.php")
				})
			}
			cmds := probe.settle()

			a, b := app.Key(anon), app.Key(user)
			wantMonitored(t, cmds, a, "SETEX DEL")
			wantMonitored(t, cmds, b, "SETEX EXPIRE EXPIRE DEL")
			assertLoginFlowEvents(t, h, a, b, tc.evidence, tc.link)
			if tc.proxy {
				assertExchangeJoins(t, h, a, b)
			}
			assertEventTimeOrder(t, h)
			assertNoFindingsAfterStop(t, h)
		})
	}
}

// assertExchangeJoins checks, with the proxy attached, that each event of the login
// flow names the request that caused it: the login page the anonymous session's birth,
// the login POST the regeneration, each dashboard read its touch, the logout the
// destruction.
func assertExchangeJoins(t *testing.T, h *harness, a, b string) {
	t.Helper()
	var xs []*model.Exchange
	for _, o := range h.Objects() {
		if x, ok := o.(*model.Exchange); ok && !strings.HasSuffix(x.URL, "/favicon.ico") {
			xs = append(xs, x)
		}
	}
	slices.SortFunc(xs, func(x, y *model.Exchange) int { return x.Start.Compare(y.Start) })
	var steps []string // "METHOD path", in order
	for _, x := range xs {
		u, err := url.Parse(x.URL)
		if err != nil {
			t.Fatalf("exchange %s: %v", x.ID, err)
		}
		steps = append(steps, x.Method+" "+u.Path)
	}
	wantSteps := []string{"GET /login_page.php", "POST /login.php", "GET /dashboard.php", "GET /dashboard.php", "POST /logout.php"}
	if !slices.Equal(steps, wantSteps) {
		t.Fatalf("the proxy saw %q, want %q", steps, wantSteps)
	}
	check := func(e *model.Event, x *model.Exchange) {
		t.Helper()
		if e.Exchange != x.ID {
			t.Errorf("%s of %s (seq %d at %s) joined to exchange %q, want %s %s (%s, %s–%s)", e.Kind, e.Session.Ref, e.Seq,
				e.Time.Format("15:04:05.000"), e.Exchange, x.Method, x.URL, x.ID, x.Start.Format("15:04:05.000"), x.End.Format("15:04:05.000"))
		}
	}
	if evs := h.Events(a); len(evs) == 1 {
		check(evs[0], xs[0])
	}
	if evs := h.Events(b); len(evs) == 4 {
		for i, e := range evs {
			check(e, xs[i+1])
		}
	}
}

// startPHPFlow starts sessionscope on a fresh Redis, the PHP app against that Redis
// (with extra ini settings), and a probe of what Redis runs; it returns once
// sessionscope is live.
func startPHPFlow(t *testing.T, ini ...string) (*harness, *monitorProbe, *traffictest.App) {
	t.Helper()
	h := newHarness(t, harnessOptions{})
	app := traffictest.StartPHP(t, h.srv.Addr, ini...)
	h.WaitLive()
	return h, startMonitorProbe(t, h, app.KeyPrefix), app
}

// phpLoginIDs are the store ids of one login flow: before login and after.
type phpLoginIDs struct{ anon, user string }

// curlLoginFlow runs login page → POST login.php?regen=true → dashboard (the login's
// redirect) → dashboard again → POST logout.php (its redirect not followed), as fast as
// a plain HTTP client goes.
func curlLoginFlow(t *testing.T, c *traffictest.Client, loginPage string) phpLoginIDs {
	t.Helper()
	anon := phpGet(t, c, loginPage)
	login, err := c.PostForm("/login.php?regen=true", url.Values{"user": {"alice"}})
	if err != nil || login.Status != 302 || login.SessionID == "" || login.SessionID == anon.SessionID {
		t.Fatalf("login: %+v, %v; want a redirect and a new session id", login, err)
	}
	for range 2 {
		dash, err := c.Follow(login)
		if err != nil || dash.Status != 200 || !strings.Contains(dash.Body, "hello user 42") {
			t.Fatalf("dashboard: %+v, %v", dash, err)
		}
	}
	logout, err := c.PostForm("/logout.php", url.Values{})
	if err != nil || logout.Status != 302 || logout.SessionID != "" {
		t.Fatalf("logout: %+v, %v; want a redirect that clears the cookie", logout, err)
	}
	return phpLoginIDs{anon: anon.SessionID, user: login.SessionID}
}

func phpGet(t *testing.T, c *traffictest.Client, path string) *traffictest.Response {
	t.Helper()
	r, err := c.Get(path)
	if err != nil || r.Status != 200 || r.SessionID == "" {
		t.Fatalf("GET %s: %+v, %v; want 200 with a session", path, r, err)
	}
	return r
}

// linkRule says when a login's new session may be left unlinked (created, with
// candidates) rather than regenerated.
type linkRule int

const (
	// mustLink: the evidence decides (the proxy saw the exchange).
	mustLink linkRule = iota
	// linkUnlessUnread: the payloads share a field that does not rotate, so the store
	// decides, unless the old payload could not be read before the app deleted it
	// (at curl speed the anonymous session may live a few milliseconds).
	linkUnlessUnread
	// mayLeaveUnlinked: the payloads share nothing that counts; the store may not decide.
	mayLeaveUnlinked
)

// assertLoginFlowEvents checks the regenerate(true) flow, one event per command. The
// logged-in session B is born regenerated from the anonymous one A (A's deletion is
// then the end of A's life, not an event of its own), or, where rule allows, created
// with A among its candidates after A's own destroyed; never linked to another
// session. Then B gets touched, touched, destroyed.
func assertLoginFlowEvents(t *testing.T, h *harness, a, b, evidence string, rule linkRule) {
	t.Helper()
	birth := firstEventOf(t, h, b)
	gotA, gotB := kinds(h.Events(a)), kinds(h.Events(b))
	const after = " touched touched destroyed"
	switch {
	case birth.Kind == model.KindRegenerated:
		if birth.From == nil || birth.From.Ref != refOfKey(a) || birth.OldKept || birth.Evidence != evidence {
			t.Errorf("regenerated: from %+v old_kept %v evidence %q; want from %s, old_kept false, evidence %s",
				birth.From, birth.OldKept, birth.Evidence, refOfKey(a), evidence)
		}
		if gotA != "created" || gotB != "regenerated"+after {
			t.Errorf("events: anonymous %q, logged-in %q; want %q and %q (one per SETEX, EXPIRE, EXPIRE, DEL)",
				gotA, gotB, "created", "regenerated"+after)
		}
	case birth.Kind == model.KindCreated && rule != mustLink:
		created := firstEventOf(t, h, a)
		if rule == linkUnlessUnread && created.PayloadUnread == "" {
			t.Errorf("logged-in session created, not regenerated, although the anonymous session's payload was read and shares return_to")
		} else {
			t.Logf("undecided: the logged-in session was created with candidates %v (anonymous payload unread: %q)",
				eventCandidateRefs(birth), created.PayloadUnread)
		}
		if !slices.Contains(eventCandidateRefs(birth), refOfKey(a)) {
			t.Errorf("logged-in session created without a link and without the true predecessor %s among its candidates %v",
				refOfKey(a), eventCandidateRefs(birth))
		}
		if gotA != "created destroyed" || gotB != "created"+after {
			t.Errorf("events: anonymous %q, logged-in %q; want %q and %q", gotA, gotB, "created destroyed", "created"+after)
		}
	default:
		t.Errorf("the logged-in session's first event is %s (from %+v, candidates %v), want regenerated from %s with evidence %s",
			birth.Kind, birth.From, eventCandidateRefs(birth), refOfKey(a), evidence)
		t.Errorf("events: anonymous %q, logged-in %q", gotA, gotB)
	}
	for _, e := range h.Events(b) {
		if e.Kind == model.KindTouched && (e.TTL == nil || *e.TTL <= 0 || *e.TTL > phpFlowTTL) {
			t.Errorf("touched (seq %d): ttl_s %v, want about %d", e.Seq, e.TTL, phpFlowTTL)
		}
	}
}

// checkChanged checks an updated event's changed list: the field the write changed,
// or nothing when the previous payload could not be read (the app rewrote the key
// before sessionscope's read answered, so there was no baseline to compare with).
// Never another field.
func checkChanged(t *testing.T, e *model.Event, field string) {
	t.Helper()
	switch {
	case slices.Equal(e.Changed, []string{field}):
	case len(e.Changed) == 0:
		t.Logf("updated (seq %d): changed unknown (payload unread %q)", e.Seq, e.PayloadUnread)
	default:
		t.Errorf("updated (seq %d): changed %v, want [%s]", e.Seq, e.Changed, field)
	}
}

// assertEventTimeOrder checks that events were emitted in event-time order.
func assertEventTimeOrder(t *testing.T, h *harness) {
	t.Helper()
	var prev *model.Event
	for _, o := range h.Objects() {
		e, ok := o.(*model.Event)
		if !ok {
			continue
		}
		if prev != nil && e.Time.Before(prev.Time) {
			t.Errorf("event %d (%s at %s) emitted after event %d (%s at %s): not in time order",
				e.Seq, e.Kind, e.Time.Format("15:04:05.000000"), prev.Seq, prev.Kind, prev.Time.Format("15:04:05.000000"))
		}
		prev = e
	}
}

// assertNoFindingsAfterStop ends the run, so that deferred decisions are made, and checks that
// nothing was diagnosed.
func assertNoFindingsAfterStop(t *testing.T, h *harness) {
	t.Helper()
	if fs := h.findingsAfterStop(); len(fs) > 0 {
		for _, f := range fs {
			t.Errorf("finding on a healthy flow: %s (%s): %s", f.Rule, f.Title, f.Detail)
		}
	}
}

// firstOfKind is the first event of kind on key, or nil (the caller has already
// reported the kinds).
func firstOfKind(h *harness, key string, kind model.Kind) *model.Event {
	for _, e := range h.Events(key) {
		if e.Kind == kind {
			return e
		}
	}
	return nil
}

func firstEventOf(t *testing.T, h *harness, key string) *model.Event {
	t.Helper()
	evs := h.Events(key)
	if len(evs) == 0 {
		t.Fatalf("no event for %s", key)
	}
	return evs[0]
}

// sessionWriteCommands are the commands that change a session key; reads (the app's GET,
// sessionscope's own reads) raise no event and are left out.
var sessionWriteCommands = map[string]bool{
	"SET": true, "SETEX": true, "PSETEX": true, "GETEX": true, "EXPIRE": true, "PEXPIRE": true,
	"EXPIREAT": true, "PEXPIREAT": true, "PERSIST": true, "DEL": true, "UNLINK": true, "RENAME": true,
}

// wantMonitored checks the write commands MONITOR saw on key, so a test says plainly when
// PHP behaves differently from what the expected events assume.
func wantMonitored(t *testing.T, cmds []monitoredCommand, key, want string) {
	t.Helper()
	var got []string
	for _, c := range cmds {
		if len(c.Args) > 0 && c.Args[0] == key {
			got = append(got, c.Name)
		}
	}
	if strings.Join(got, " ") != want {
		t.Errorf("MONITOR: commands on %s were %q, want %q", key, got, want)
	}
}

// monitoredKinds reads MONITOR's write commands as the events they must give, one per
// command, key by key: SETEX or SET of a new key = created, of an existing key =
// updated when the payload changed, else touched; EXPIRE = touched; DEL = destroyed.
func monitoredKinds(cmds []monitoredCommand) map[string][]string {
	payload := map[string]string{} // the keys that exist, with their value
	out := url.Values{}
	for _, c := range cmds {
		if len(c.Args) == 0 {
			continue
		}
		key := c.Args[0]
		old, exists := payload[key]
		kind := ""
		switch c.Name {
		case "SET", "SETEX", "PSETEX":
			value := c.Args[len(c.Args)-1]
			if c.Name == "SET" && len(c.Args) > 1 {
				value = c.Args[1]
			}
			switch {
			case !exists:
				kind = string(model.KindCreated)
			case old != value:
				kind = string(model.KindUpdated)
			default:
				kind = string(model.KindTouched)
			}
			payload[key] = value
		case "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "GETEX", "PERSIST":
			if exists {
				kind = string(model.KindTouched)
			}
		case "DEL", "UNLINK":
			if exists {
				kind = string(model.KindDestroyed)
			}
			delete(payload, key)
		}
		if kind != "" {
			out[key] = append(out[key], kind)
		}
	}
	return out
}

// monitorProbe watches one Redis from the outside while a flow runs: MONITOR for the
// commands it ran, a keyevent subscription for the notifications sessionscope was sent.
// Its settle waits, without timing anything, until sessionscope has taken every
// notification of the flow and has nothing left to decide.
type monitorProbe struct {
	t         *testing.T
	h         *harness
	prefix    string
	mon       *monitorRecorder
	notes     *trackertest.Recorder[string] // "<event> <key>", every key
	forwarded atomic.Int64                  // session-key notifications the store forwards
	raw0      int64                         // the tracker's raw event count at the start
	marks     int
}

// probeBarrierPrefix names the marker keys settle writes; no framework claims it.
const probeBarrierPrefix = "sessionscope-test-barrier:"

func startMonitorProbe(t *testing.T, h *harness, prefix string) *monitorProbe {
	t.Helper()
	p := &monitorProbe{t: t, h: h, prefix: prefix,
		mon: startMonitor(t, h.srv.Addr), notes: trackertest.NewRecorder[string]()}
	p.startKeyevents()
	p.raw0 = h.in.Stats().RawEvents.Load()
	return p
}

// startKeyevents subscribes to the keyevents sessionscope subscribes to and counts
// those the store forwards to the tracker (session keys, ops it knows).
func (p *monitorProbe) startKeyevents() {
	client := redis.NewClient(&redis.Options{Addr: p.h.srv.Addr})
	ps := client.PSubscribe(context.Background(), "__keyevent@0__:*")
	ctx, cancel := context.WithTimeout(context.Background(), trackertest.Limit)
	defer cancel()
	if _, err := ps.Receive(ctx); err != nil {
		p.t.Fatalf("psubscribe: %v", err)
	}
	ch := ps.Channel(redis.WithChannelSize(1 << 12))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range ch {
			name := strings.TrimPrefix(msg.Channel, "__keyevent@0__:")
			if _, ok := backend.ParseOp(name); ok && sessionRefOrEmpty(msg.Payload) != "" {
				p.forwarded.Add(1)
			}
			p.notes.Add(name + " " + msg.Payload)
		}
	}()
	p.t.Cleanup(func() {
		_ = ps.Close()
		<-done
		_ = client.Close()
	})
}

// sessionRefOrEmpty is the ref of a session key under the builtin table, "" for other keys.
func sessionRefOrEmpty(key string) string {
	m, ok := matcher.Match(key)
	if !ok {
		return ""
	}
	return model.Ref(m.StoreID)
}

// settle returns the write commands Redis ran on the app's session keys so far, once
// sessionscope has emitted everything they cause. A marker key is written last:
// MONITOR lists commands and Redis publishes notifications in execution order, so
// when the marker shows on both, everything before it has been seen; then the tracker
// must have taken as many notifications as were published, and be idle.
func (p *monitorProbe) settle() []monitoredCommand {
	p.t.Helper()
	p.marks++
	marker := probeBarrierPrefix + strconv.Itoa(p.marks)
	ran := p.mon.through(p.h, "SET", marker, "1")
	p.notes.Wait(p.t, "keyevent of "+marker, func(n string) bool { return n == "set "+marker })
	want := p.forwarded.Load()
	trackertest.Eventually(p.t, "sessionscope taking every notification", trackertest.Limit, func() (bool, string) {
		got := p.h.in.Stats().RawEvents.Load() - p.raw0
		return got >= want, fmt.Sprintf("took %d of %d", got, want)
	})
	trackertest.Eventually(p.t, "sessionscope settled", trackertest.Limit, func() (bool, string) {
		ok, err := p.h.in.Settled(context.Background())
		return ok && err == nil, fmt.Sprintf("settled %v, %v", ok, err)
	})
	// The recorder takes objects from a subscription, behind the inspector.
	seq := p.h.in.Seq()
	trackertest.Eventually(p.t, "the recorder holding everything published", trackertest.Limit, func() (bool, string) {
		objs := p.h.Objects()
		last := uint64(0)
		if len(objs) > 0 {
			last = objs[len(objs)-1].ObjectSeq()
		}
		return last >= seq, fmt.Sprintf("recorded up to seq %d of %d", last, seq)
	})
	p.checkQuietAfter(seq)
	var out []monitoredCommand
	for _, c := range ran {
		if sessionWriteCommands[c.Name] && len(c.Args) > 0 && strings.HasPrefix(c.Args[0], p.prefix) {
			out = append(out, c)
		}
	}
	for _, c := range out {
		p.t.Logf("MONITOR: %s %s", c.Name, strings.Join(c.Args[:min(len(c.Args), 2)], " "))
	}
	return out
}

// checkQuietAfter fails the test, when it ends, if an event was emitted after seq:
// once Settled has said so, everything the flow caused has been emitted, and the test
// has judged the events as they were then.
func (p *monitorProbe) checkQuietAfter(seq uint64) {
	p.t.Cleanup(func() {
		for _, o := range p.h.Objects() {
			if e, ok := o.(*model.Event); ok && e.Seq > seq && e.Session != nil {
				p.t.Errorf("event %d (%s of %s at %s) emitted after the inspector said it was settled (last seq %d)",
					e.Seq, e.Kind, e.Session.Ref, e.Time.Format("15:04:05.000"), seq)
			}
		}
	})
}
