package inspector_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/tracker/trackertest"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// TestRealFrameworkFlows drives Laravel's and Rack's real session layers through a
// visit, a login, two dashboard views, a logout and a visit after it, with
// sessionscope watching their Redis (and, in the proxy variants, their HTTP), and
// holds what sessionscope says against what Redis really ran, read with MONITOR.
//
// How events are counted. Every command the app ran that changed a session key is
// one event of that key's session: the first write is its birth (created, or
// regenerated as the new id), a later write is updated or touched, EXPIRE is touched,
// DEL is its end (destroyed). The one exception is a regeneration: the DEL of the
// predecessor and the SETEX of the new id become one regenerated event on the new
// session, so the predecessor's DEL has no event of its own. A DEL of a key that does
// not exist changes nothing and raises no notification, so it is no event (redis-rack
// deletes the old public-id key layout before the real one).
func TestRealFrameworkFlows(t *testing.T) {
	for _, fw := range []struct {
		name  string
		start func(testing.TB, string) *traffictest.App
	}{
		{"laravel", traffictest.StartLaravel},
		{"rack", traffictest.StartRack},
	} {
		for _, viaProxy := range []bool{false, true} {
			name := fw.name + "/store only"
			if viaProxy {
				name = fw.name + "/behind the proxy"
			}
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, harnessOptions{})
				mon := startMonitor(t, h.srv.Addr)
				app := fw.start(t, h.srv.Addr)
				h.WaitLive()
				base := app.BaseURL
				if viaProxy {
					base = proxyFor(t, h, false, app.BaseURL)
				}
				run := driveFrameworkFlow(t, h, mon, app, base)
				waitFlowSettled(t, h, run, viaProxy)
				findings := h.findingsAfterStop()
				checkFrameworkFlow(t, h, run, viaProxy)
				for _, f := range findings {
					t.Errorf("a healthy %s flow gave finding %s (%s): %s", fw.name, f.Rule, f.Severity, f.Detail)
				}
			})
		}
	}
}

// flowStep is one request of the flow and what it must answer.
type flowStep struct {
	name, method, path string
	form               url.Values
	status             int
	body               string // a substring the body must hold ("" for none)
}

var frameworkFlowSteps = []flowStep{
	{name: "anonymous", method: http.MethodGet, path: "/?cart=3", status: http.StatusOK, body: "cart 3"},
	{name: "login", method: http.MethodPost, path: "/login", form: url.Values{"user": {"alice"}}, status: http.StatusFound},
	{name: "dashboard", method: http.MethodGet, path: "/dashboard", status: http.StatusOK, body: "hello user 42"},
	{name: "dashboard again", method: http.MethodGet, path: "/dashboard", status: http.StatusOK, body: "hello user 42"},
	{name: "logout", method: http.MethodPost, path: "/logout", form: url.Values{}, status: http.StatusFound},
	{name: "home after logout", method: http.MethodGet, path: "/", status: http.StatusOK},
}

// flowRun is what a flow did: the session key the client held after each step and
// the session-key commands Redis ran for each step, in Redis' order.
type flowRun struct {
	app      *traffictest.App
	keyAfter map[string]string // step name -> session key the cookie pointed to afterwards
	commands []flowCommand     // the commands that changed a session key
}

// flowCommand is one command that changed a session key.
type flowCommand struct {
	step string
	name string // upper case: SETEX, DEL, ...
	key  string
}

func (c flowCommand) String() string { return c.name + "(" + c.step + ")" }

// stepMarker begins the ECHO that closes a step in the MONITOR record.
const stepMarker = "sessionscope-test-step:"

// driveFrameworkFlow runs frameworkFlowSteps against base (the app or a proxy before
// it), failing the test when the app answers otherwise. After each step a marker
// command through h's client closes the step in the MONITOR record: the app wrote its
// session before it answered, so everything it ran precedes the marker.
func driveFrameworkFlow(t *testing.T, h *harness, mon *monitorRecorder, app *traffictest.App, base string) *flowRun {
	t.Helper()
	c, err := app.NewClientVia(base)
	if err != nil {
		t.Fatal(err)
	}
	run := &flowRun{app: app, keyAfter: map[string]string{}}
	exists := map[string]bool{}
	stepStart := 0 // index in the MONITOR record of the first command of the step
	for _, s := range frameworkFlowSteps {
		r, err := c.Do(s.method, s.path, s.form)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if r.Status != s.status || !strings.Contains(r.Body, s.body) {
			t.Fatalf("%s: %s %s answered %d %q, want %d with %q", s.name, s.method, s.path, r.Status, r.Body, s.status, s.body)
		}
		ck := c.Cookie(app.CookieName)
		if ck == nil {
			t.Fatalf("%s: no %s cookie after the response", s.name, app.CookieName)
		}
		key, err := app.SessionKey(ck.Value)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		run.keyAfter[s.name] = key
		ran := mon.through(h, "ECHO", stepMarker+s.name)
		stepCmds := ran[stepStart:]
		stepStart = len(ran) + 1 // past the marker
		for _, mc := range stepCmds {
			for _, cmd := range sessionWrites(mc, app.KeyPrefix) {
				cmd.step = s.name
				switch {
				case cmd.name == "DEL" || cmd.name == "UNLINK":
					if !exists[cmd.key] {
						continue // nothing to delete: no notification, no event
					}
					delete(exists, cmd.key)
				case cmd.name == "SET" || cmd.name == "SETEX" || cmd.name == "PSETEX" || cmd.name == "SETNX":
					exists[cmd.key] = true
				}
				run.commands = append(run.commands, cmd)
			}
		}
	}
	anon, user, fresh := run.keyAfter["anonymous"], run.keyAfter["login"], run.keyAfter["logout"]
	if anon == user || user == fresh || anon == fresh {
		t.Fatalf("the app did not change the session id at login and logout: %s, %s, %s", anon, user, fresh)
	}
	t.Logf("Redis ran, on session keys: %s", run.describe())
	return run
}

// describe lists the commands with the keys named by their role in the flow.
func (r *flowRun) describe() string {
	var parts []string
	for _, c := range r.commands {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", c.name, r.role(c.key), c.step))
	}
	return strings.Join(parts, ", ")
}

// role names a key after the step that left the client holding it.
func (r *flowRun) role(key string) string {
	for _, s := range []struct{ step, role string }{{"anonymous", "A"}, {"login", "B"}, {"logout", "C"}} {
		if r.keyAfter[s.step] == key {
			return s.role
		}
	}
	return key
}

// keys lists the session keys the flow's commands changed, in order of first change.
func (r *flowRun) keys() []string {
	var out []string
	for _, c := range r.commands {
		if !slices.Contains(out, c.key) {
			out = append(out, c.key)
		}
	}
	return out
}

func (r *flowRun) commandsOn(key string) []flowCommand {
	var out []flowCommand
	for _, c := range r.commands {
		if c.key == key {
			out = append(out, c)
		}
	}
	return out
}

// sessionWrites picks the session-key changes out of one command MONITOR saw.
func sessionWrites(c monitoredCommand, prefix string) []flowCommand {
	if len(c.Args) < 1 {
		return nil
	}
	var keys []string
	switch c.Name {
	case "DEL", "UNLINK":
		keys = c.Args
	case "SET", "SETEX", "PSETEX", "SETNX", "GETSET", "GETDEL", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT",
		"PERSIST", "HSET", "HMSET", "HDEL", "RENAME":
		keys = c.Args[:1]
	case "GETEX":
		if len(c.Args) > 1 { // GETEX without options only reads
			keys = c.Args[:1]
		}
	}
	var out []flowCommand
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, flowCommand{name: c.Name, key: k})
		}
	}
	return out
}

// waitFlowSettled waits until sessionscope has turned everything the flow did into
// events (and, behind the proxy, has all six exchanges), then stops the inspector so
// that what is missing afterwards is missing. It reports rather than stops the test
// when the events fall short, so every assertion after it still runs.
func waitFlowSettled(t *testing.T, h *harness, run *flowRun, viaProxy bool) {
	t.Helper()
	if viaProxy {
		h.waitExchanges(len(frameworkFlowSteps))
	}
	// Events come out in event-time order: once the key written last has one event per
	// command (it was written, never deleted), every earlier event is out too.
	last := run.commands[len(run.commands)-1].key
	want := len(run.commandsOn(last))
	if !pollUntil(15*time.Second, func() bool { return len(h.Events(last)) >= want }) {
		t.Errorf("the session written last (%s) has events [%s] after 15s, want %d: one per command %v",
			run.role(last), kinds(h.Events(last)), want, run.commandsOn(last))
	}
	if !pollUntil(15*time.Second, func() bool {
		ok, err := h.in.Settled(context.Background())
		return err == nil && ok
	}) {
		t.Errorf("the inspector did not settle within 15s")
	}
	h.Stop()
}

// pollUntil polls cond until it holds or limit passes; the limit only guards against
// a hang.
func pollUntil(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// checkFrameworkFlow holds the events against the commands and the flow's meaning.
func checkFrameworkFlow(t *testing.T, h *harness, run *flowRun, viaProxy bool) {
	t.Helper()
	anon, user, fresh := run.keyAfter["anonymous"], run.keyAfter["login"], run.keyAfter["logout"]
	anonRef := refOfKey(anon)

	// The login: regenerated from the anonymous session, or (store only, when the store
	// cannot tell) created with the anonymous session among the candidates. Never a
	// link to anything else.
	if evs := h.Events(user); len(evs) == 0 {
		t.Errorf("login: no event for the logged-in session B")
	} else {
		birth := evs[0]
		switch birth.Kind {
		case model.KindRegenerated:
			if birth.From == nil || birth.From.Ref != anonRef {
				t.Errorf("login: B regenerated from %v, want from the anonymous session A (%s)", birth.From, anonRef)
			}
			if viaProxy && birth.Evidence != model.EvidenceHTTP {
				t.Errorf("login: regenerated with evidence %q, want %q: the proxy saw the exchange that replaced the cookie", birth.Evidence, model.EvidenceHTTP)
			}
		case model.KindCreated:
			switch {
			case viaProxy:
				t.Errorf("login: B created (candidates %v), want regenerated from A with evidence http: the proxy saw the exchange", eventCandidateRefs(birth))
			case birth.From != nil:
				t.Errorf("login: B created yet linked to %s", birth.From.Ref)
			case !slices.Contains(eventCandidateRefs(birth), anonRef):
				t.Errorf("login: B created with candidates %v, which lack the anonymous session A (%s)", eventCandidateRefs(birth), anonRef)
			}
			if got := kinds(h.Events(anon)); got != "created destroyed" {
				t.Errorf("login undecided: events of A are [%s], want [created destroyed]", got)
			}
		default:
			t.Errorf("login: B's first event is %s, want regenerated (or created with candidates)", birth.Kind)
		}
	}

	// The logout: the logged-in session ends, a fresh one starts, unlinked.
	if evs := h.Events(user); len(evs) == 0 || evs[len(evs)-1].Kind != model.KindDestroyed || evs[len(evs)-1].Cause != model.CauseApp {
		t.Errorf("logout: events of B are [%s], want it to end destroyed with cause app", kinds(evs))
	}
	if evs := h.Events(fresh); len(evs) == 0 || evs[0].Kind != model.KindCreated || evs[0].From != nil {
		var from any
		if len(evs) > 0 && evs[0].From != nil {
			from = evs[0].From.Ref
		}
		t.Errorf("logout: events of C are [%s] (first from %v), want it born created, linked to nothing", kinds(evs), from)
	}

	// One event per command, with the predecessor's DEL folded into a regeneration.
	movedBy := map[string]bool{} // refs that ended as the from of a regeneration
	for _, e := range h.Events(run.keys()...) {
		if e.Kind == model.KindRegenerated && e.From != nil {
			movedBy[e.From.Ref] = true
		}
	}
	// Behind the proxy, an event joined to an exchange must be joined to the request
	// whose handling ran its command (an event may also be joined to none).
	exchangeOf := map[string]string{} // step name -> exchange id
	if viaProxy {
		exchangeOf = flowExchanges(t, h)
	}
	for _, key := range run.keys() {
		var want []string
		var caused []flowCommand // the command behind each wanted event
		for _, c := range run.commandsOn(key) {
			switch {
			case c.name == "DEL" || c.name == "UNLINK":
				if movedBy[refOfKey(key)] {
					continue
				}
				want = append(want, "destroyed")
			case len(want) == 0:
				want = append(want, "created|regenerated")
			case strings.HasSuffix(c.name, "EXPIRE") || c.name == "GETEX":
				want = append(want, "touched")
			default:
				want = append(want, "updated|touched")
			}
			caused = append(caused, c)
		}
		evs := h.Events(key)
		got := trackertest.Kinds(evs)
		ok := len(got) == len(want)
		for i := 0; ok && i < len(got); i++ {
			ok = slices.Contains(strings.Split(want[i], "|"), got[i])
		}
		if !ok {
			t.Errorf("session %s: events [%s], want [%s]: one per command %v", run.role(key), strings.Join(got, " "), strings.Join(want, " "), run.commandsOn(key))
			continue
		}
		for i, e := range evs {
			if wantX := exchangeOf[caused[i].step]; e.Exchange != "" && e.Exchange != wantX {
				t.Errorf("session %s: %s event (from %s) joined to exchange %s, want %s (the %s request) or none",
					run.role(key), e.Kind, caused[i], e.Exchange, wantX, caused[i].step)
			}
		}
	}

	// Nothing else: no event of a session the flow did not touch, no gap, and every
	// event in event-time order.
	var prev time.Time
	for _, o := range h.Objects() {
		e, ok := o.(*model.Event)
		if !ok {
			continue
		}
		if e.Session == nil || !slices.ContainsFunc(run.keys(), func(k string) bool { return refOfKey(k) == e.Session.Ref }) {
			t.Errorf("unexpected %s event (session %v): the flow touched only A, B and C", e.Kind, e.Session)
		}
		if e.Time.Before(prev) {
			t.Errorf("event %d (%s at %s) emitted after one at %s: not in event-time order", e.Seq, e.Kind, e.Time.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
		}
		prev = e.Time
	}
}

// flowExchanges maps each step of the flow to the exchange the proxy recorded for it:
// one client made the requests one after another, so they were published in order.
func flowExchanges(t *testing.T, h *harness) map[string]string {
	t.Helper()
	var xs []*model.Exchange
	for _, o := range h.Objects() {
		if x, ok := o.(*model.Exchange); ok {
			xs = append(xs, x)
		}
	}
	if len(xs) != len(frameworkFlowSteps) {
		t.Errorf("the proxy recorded %d exchanges, want %d, one per request", len(xs), len(frameworkFlowSteps))
		return nil
	}
	out := map[string]string{}
	for i, s := range frameworkFlowSteps {
		u, err := url.Parse(xs[i].URL)
		if err != nil || xs[i].Method != s.method || u.RequestURI() != s.path {
			t.Errorf("exchange %d is %s %s, want %s %s", i+1, xs[i].Method, xs[i].URL, s.method, s.path)
			return nil
		}
		out[s.name] = xs[i].ID
	}
	return out
}
