package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/model"
	"github.com/sessionscope/sessionscope/inspector/traffic/traffictest"
)

// These tests build the real binary and read `watch --json` as a user would.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func sessionscopeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sessionscope-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sessionscope")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, "github.com/sessionscope/sessionscope").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// line is one NDJSON object: an event, or the fields of findings and status objects
// that the tests look at.
type line struct {
	model.Event
	Rule     string
	State    string
	Inv      *model.Inventory
	Sessions []string
	raw      string
}

func decodeLine(b []byte) (line, error) {
	var head struct{ Type string }
	if err := json.Unmarshal(b, &head); err != nil {
		return line{}, err
	}
	var l line
	switch head.Type {
	case model.TypeEvent:
		if err := json.Unmarshal(b, &l.Event); err != nil {
			return l, err
		}
	case model.TypeFinding:
		var f model.Finding
		if err := json.Unmarshal(b, &f); err != nil {
			return l, err
		}
		l.Rule, l.Sessions = f.Rule, f.Sessions
	case model.TypeExchange:
		// Exchanges are checked from the raw line.
	case model.TypeStatus:
		var s model.Status
		if err := json.Unmarshal(b, &s); err != nil {
			return l, err
		}
		l.State, l.Inv = s.State, s.Inventory
	default:
		return l, fmt.Errorf("unknown type %q", head.Type)
	}
	l.Type = head.Type
	return l, nil
}

type watchProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []line
	notify chan struct{}
	stderr strings.Builder
	done   chan struct{}
}

func startWatch(t *testing.T, args ...string) *watchProc {
	t.Helper()
	return startWatchEnv(t, isolatedEnv(t), args...)
}

// startWatchEnv is startWatch in the environment env.
func startWatchEnv(t *testing.T, env []string, args ...string) *watchProc {
	t.Helper()
	cmd := exec.Command(sessionscopeBinary(t), append([]string{"watch", "--json"}, args...)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &watchProc{t: t, cmd: cmd, notify: make(chan struct{}, 1), done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &w.mu, w: &w.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go w.read(stdout)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("watch stderr:\n%s", w.stderrText())
			t.Logf("watch stdout:\n%s", w.dump())
		}
	})
	return w
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (w *watchProc) read(r io.Reader) {
	defer close(w.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l, err := decodeLine(sc.Bytes())
		if err != nil {
			w.t.Errorf("watch printed a line that is not JSON: %q: %v", sc.Text(), err)
			continue
		}
		l.raw = sc.Text()
		w.mu.Lock()
		w.lines = append(w.lines, l)
		w.mu.Unlock()
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

func (w *watchProc) stderrText() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stderr.String()
}

func (w *watchProc) dump() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	for _, l := range w.lines {
		b.WriteString(l.raw + "\n")
	}
	return b.String()
}

// waitFor blocks until a line satisfies pred, returning it. The limit only guards
// against a hang; nothing asserts how long it took.
func (w *watchProc) waitFor(what string, pred func(line) bool) line {
	w.t.Helper()
	limit := time.After(30 * time.Second)
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.lines); seen++ {
			if pred(w.lines[seen]) {
				l := w.lines[seen]
				w.mu.Unlock()
				return l
			}
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-w.done:
			w.t.Fatalf("watch exited before %s", what)
		case <-limit:
			w.t.Fatalf("no %s after 30 s", what)
		}
	}
}

func (w *watchProc) events() []line {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []line
	for _, l := range w.lines {
		if l.Type == model.TypeEvent {
			out = append(out, l)
		}
	}
	return out
}

func (w *watchProc) waitLive() {
	w.t.Helper()
	w.waitFor("status with inventory.done", func(l line) bool {
		return l.Type == model.TypeStatus && l.Inv != nil && l.Inv.Done
	})
}

func isEvent(kind model.Kind, ref string) func(line) bool {
	return func(l line) bool {
		return l.Type == model.TypeEvent && l.Kind == kind && l.Session != nil && l.Session.Ref == ref
	}
}

// TestWatchRealPHP runs a real PHP app with phpredis against a throwaway Redis and
// checks what `watch --json` reports for each regeneration variant.
func TestWatchRealPHP(t *testing.T) {
	cases := []struct {
		name  string
		regen string
	}{
		{"regenerate-true", "true"},
		{"regenerate-false", "false"},
		{"no-regeneration", "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			app := traffictest.StartPHP(t, srv.Addr)
			w := startWatch(t, "--redis", srv.URL())
			w.waitLive()

			client := app.NewClient()
			var anonRef, userRef string
			client.AfterStep = func(step string, r *traffictest.Response) {
				switch step {
				case "anonymous":
					anonRef = traffictest.Ref(r.SessionID)
					w.waitFor("created for the anonymous visit", isEvent(model.KindCreated, anonRef))
				case "login":
					userRef = traffictest.Ref(client.SessionID())
					switch tc.regen {
					case "none":
						w.waitFor("updated at login", isEvent(model.KindUpdated, anonRef))
					default:
						w.waitFor("regenerated at login", isEvent(model.KindRegenerated, userRef))
					}
				case "dashboard":
					w.waitFor("touched on the dashboard read", isEvent(model.KindTouched, userRef))
				case "logout":
					w.waitFor("destroyed at logout", isEvent(model.KindDestroyed, userRef))
				}
			}
			flow, err := client.PHPLoginFlow(tc.regen)
			if err != nil {
				t.Fatalf("login flow: %v", err)
			}
			if got, want := anonRef, traffictest.Ref(flow.AnonID); got != want {
				t.Fatalf("anonymous ref %s, want sha256 of the real id %s", got, want)
			}

			switch tc.regen {
			case "true", "false":
				regen := w.waitFor("regenerated", isEvent(model.KindRegenerated, traffictest.Ref(flow.LoggedInID)))
				if regen.From == nil || regen.From.Ref != traffictest.Ref(flow.AnonID) {
					t.Errorf("regenerated.from = %+v, want the anonymous session %s", regen.From, traffictest.Ref(flow.AnonID))
				}
				if regen.Evidence != model.EvidencePayload {
					t.Errorf("evidence %q, want payload", regen.Evidence)
				}
				if regen.OldKept != (tc.regen == "false") {
					t.Errorf("old_kept = %v for regenerate(%s)", regen.OldKept, tc.regen)
				}
				if regen.Session.ID == flow.LoggedInID || !strings.Contains(regen.Session.ID, "…") {
					t.Errorf("session id %q is not masked", regen.Session.ID)
				}
				// The sequence covers both keys: the anonymous session's life ends in the
				// regeneration (no destroyed of its own); with regenerate(false) it lives on.
				sequence := kindsFor(w.events(), anonRef, userRef)
				want := "created regenerated touched destroyed"
				if tc.regen == "false" {
					want = "created touched regenerated touched destroyed"
				}
				if sequence != want {
					t.Errorf("event sequence %q, want %q", sequence, want)
				}
			case "none":
				up := w.waitFor("updated", isEvent(model.KindUpdated, anonRef))
				if strings.Join(up.Changed, ",") != "user_id" {
					t.Errorf("changed %v, want [user_id]", up.Changed)
				}
				f := w.waitFor("fixation finding", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "fixation" })
				if len(f.Sessions) == 0 || f.Sessions[0] != anonRef {
					t.Errorf("fixation finding cites %v, want %s", f.Sessions, anonRef)
				}
			}
		})
	}
}

// kindsFor lists the kinds of the events of the given sessions, in order.
func kindsFor(events []line, refs ...string) string {
	var kinds []string
	for _, e := range events {
		if e.Session == nil {
			continue
		}
		for _, r := range refs {
			if e.Session.Ref == r {
				kinds = append(kinds, string(e.Kind))
				break
			}
		}
	}
	return strings.Join(kinds, " ")
}

// TestWatchRealNode runs express-session with connect-redis.
func TestWatchRealNode(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	app := traffictest.StartNode(t, srv.URL())
	w := startWatch(t, "--redis", srv.URL())
	w.waitLive()
	client := app.NewClient()
	var anonRef, userRef string
	client.AfterStep = func(step string, r *traffictest.Response) {
		switch step {
		case "anonymous":
			anonRef = traffictest.Ref(r.SessionID)
			w.waitFor("created", isEvent(model.KindCreated, anonRef))
		case "login":
			userRef = traffictest.Ref(client.SessionID())
			w.waitFor("regenerated", isEvent(model.KindRegenerated, userRef))
		case "dashboard":
			w.waitFor("touched", isEvent(model.KindTouched, userRef))
		case "logout":
			w.waitFor("destroyed", isEvent(model.KindDestroyed, userRef))
		}
	}
	flow, err := client.NodeLoginFlow()
	if err != nil {
		t.Fatalf("login flow: %v", err)
	}
	regen := w.waitFor("regenerated", isEvent(model.KindRegenerated, traffictest.Ref(flow.LoggedInID)))
	if regen.From == nil || regen.From.Ref != traffictest.Ref(flow.AnonID) || regen.Evidence != model.EvidencePayload {
		t.Errorf("regenerated from %+v evidence %q; want from %s by payload", regen.From, regen.Evidence, traffictest.Ref(flow.AnonID))
	}
	if regen.Session.Framework != "express" {
		t.Errorf("framework %q, want express", regen.Session.Framework)
	}
	// express-session saves the regenerated session twice (one event per SET): the
	// second, same content, is a touch, or an update without a baseline when it came
	// before the first SET's read answered.
	got := kindsFor(w.events(), anonRef, userRef)
	if want, or := "created regenerated touched touched destroyed", "created regenerated updated touched destroyed"; got != want && got != or {
		t.Errorf("event sequence %q, want %q (or %q)", got, want, or)
	}
}

// TestWatchExitsCleanlyOnInterrupt: Ctrl-C is a normal way to stop watching.
func TestWatchExitsCleanlyOnInterrupt(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	cmd := exec.Command(sessionscopeBinary(t), "watch", "--redis", srv.URL())
	cmd.Env = isolatedEnv(t)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "live;") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch after Ctrl-C: %v, want exit status 0", err)
	}
}

// TestWatchAttachErrors: each failure to attach is one clear line and exit status 2.
func TestWatchAttachErrors(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Args: []string{"--requirepass", "s3cret"}})
	free, _ := redistest.FreePort()
	cases := []struct {
		name, url, want string
	}{
		{"unreachable", fmt.Sprintf("redis://127.0.0.1:%d/0", free), "connection refused"},
		{"wrong password", "redis://:nope@" + srv.Addr + "/0", "refused the credentials"},
		{"no password", "redis://" + srv.Addr + "/0", "requires a password"},
		{"malformed", "http://" + srv.Addr, "malformed --redis URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(sessionscopeBinary(t), "watch", "--redis", tc.url)
			cmd.Env = isolatedEnv(t)
			out, err := cmd.CombinedOutput()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != 2 {
				t.Fatalf("exit %v, want status 2; output %q", err, out)
			}
			text := strings.TrimSpace(string(out))
			if strings.Count(text, "\n") != 0 {
				t.Errorf("want one line, got:\n%s", text)
			}
			if !strings.Contains(text, tc.want) {
				t.Errorf("message %q does not say %q", text, tc.want)
			}
			if strings.Contains(text, "nope") {
				t.Errorf("message leaks the password: %q", text)
			}
		})
	}
}

// TestWatchProxyRealPHP puts sessionscope in front of a real PHP app as a reverse proxy:
// every request becomes an exchange in `watch --json`, joined to the store's events by
// session ref.
func TestWatchProxyRealPHP(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	app := traffictest.StartPHP(t, srv.Addr)
	w := startWatch(t, "--redis", srv.URL(), "--proxy-to", app.BaseURL, "--proxy-listen", "127.0.0.1:0")
	proxyAddr := w.proxyAddr()
	w.waitLive()
	proxied := *app
	proxied.BaseURL = "http://" + proxyAddr
	client := proxied.NewClient()
	flow, err := client.PHPLoginFlow("true")
	if err != nil {
		t.Fatalf("login flow through the proxy: %v", err)
	}
	anonRef, userRef := traffictest.Ref(flow.AnonID), traffictest.Ref(flow.LoggedInID)
	w.waitFor("regenerated", isEvent(model.KindRegenerated, userRef))
	var exchanges []map[string]any
	w.waitFor("the logout exchange", func(l line) bool { return l.Type == model.TypeExchange && strings.Contains(l.raw, "logout.php") })
	for _, raw := range strings.Split(strings.TrimSpace(w.dump()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(raw), &m) == nil && m["type"] == model.TypeExchange {
			exchanges = append(exchanges, m)
		}
	}
	if len(exchanges) < 4 {
		t.Fatalf("%d exchanges, want one per request (4)", len(exchanges))
	}
	var login, dashboard map[string]any
	for _, x := range exchanges {
		u, _ := x["url"].(string)
		switch {
		case strings.Contains(u, "login.php"):
			login = x
		case strings.Contains(u, "dashboard.php"):
			dashboard = x
		}
	}
	if login == nil || login["status"] != float64(302) || !strings.HasSuffix(fmt.Sprint(login["location"]), "dashboard.php") {
		t.Fatalf("login exchange %v", login)
	}
	if got := fmt.Sprint(login["session_ref"]); got != anonRef {
		t.Errorf("login request carried session %s, want the anonymous %s", got, anonRef)
	}
	if !strings.Contains(fmt.Sprint(login["set_cookies"]), userRef) {
		t.Errorf("login Set-Cookie %v does not carry the regenerated session %s", login["set_cookies"], userRef)
	}
	if dashboard == nil || fmt.Sprint(dashboard["session_ref"]) != userRef {
		t.Errorf("dashboard exchange %v, want session_ref %s", dashboard, userRef)
	}
	if strings.Contains(w.dump(), flow.LoggedInID) {
		t.Error("a full session id leaked into the output")
	}
}

// TestWatchProxyLoginLoopRealPHP: a real PHP app whose session cookie carries a Domain
// the browser refuses loops on login; through the proxy, `watch --json` names the loop
// and its cause live. The fixed app, the same flow, yields neither.
func TestWatchProxyLoginLoopRealPHP(t *testing.T) {
	cases := []struct {
		name   string
		ini    []string
		broken bool
	}{
		{"wrong cookie domain", []string{"session.cookie_domain=app.example.com"}, true},
		{"fixed", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			app := traffictest.StartPHP(t, srv.Addr, tc.ini...)
			w := startWatch(t, "--redis", srv.URL(), "--proxy-to", app.BaseURL, "--proxy-listen", "127.0.0.1:0")
			proxyAddr := w.proxyAddr()
			w.waitLive()
			proxied := *app
			proxied.BaseURL = "http://" + proxyAddr
			c := proxied.NewClient()
			// Two login attempts, as a user stuck in the loop would make.
			for attempt := 0; attempt < 2; attempt++ {
				if _, err := c.Get("/index.php"); err != nil {
					t.Fatal(err)
				}
				login, err := c.PostForm("/login.php?regen=true", url.Values{"user": {"ada"}})
				if err != nil {
					t.Fatal(err)
				}
				dash, err := c.Follow(login)
				if err != nil {
					t.Fatal(err)
				}
				if bounced := dash.Status == 302; bounced != tc.broken {
					t.Fatalf("dashboard answered %d; broken=%v", dash.Status, tc.broken)
				}
			}
			dashboards := 0
			w.waitFor("the second dashboard exchange", func(l line) bool {
				if l.Type == model.TypeExchange && strings.Contains(l.raw, "dashboard.php") {
					dashboards++
				}
				return dashboards == 2
			})
			if !tc.broken {
				for _, raw := range strings.Split(w.dump(), "\n") {
					if strings.Contains(raw, `"rule":"login-loop"`) || strings.Contains(raw, `"rule":"cookie-rejected"`) {
						t.Errorf("the fixed app produced %s", raw)
					}
				}
				return
			}
			rejected := w.waitFor("cookie-rejected", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "cookie-rejected" })
			loop := w.waitFor("login-loop", func(l line) bool { return l.Type == model.TypeFinding && l.Rule == "login-loop" })
			if !strings.Contains(rejected.raw, "InvalidDomain") || !strings.Contains(rejected.raw, "Domain=app.example.com") {
				t.Errorf("cookie-rejected does not name the reason and the attribute: %s", rejected.raw)
			}
			if !strings.Contains(loop.raw, "Root cause: cookie-rejected") {
				t.Errorf("login-loop does not name its cause: %s", loop.raw)
			}
		})
	}
}

// proxyAddr waits for the line watch prints once its proxy listens and returns the
// address it bound: with --proxy-listen 127.0.0.1:0 the system picks a free port,
// and no other test can take it between choosing and binding.
func (w *watchProc) proxyAddr() string {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		text := w.stderrText()
		if _, rest, ok := strings.Cut(text, "proxy on http://"); ok {
			if addr, _, ok := strings.Cut(rest, "/"); ok {
				return addr
			}
		}
		select {
		case <-w.done:
			w.t.Fatalf("watch exited before its proxy listened: %s", text)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("watch printed no proxy address within 30 s: %s", text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startWatchProxy starts watch with its proxy on a port chosen first, for tests whose
// app must know the proxy's address before watch starts: setup starts what depends on
// the port and returns watch's other arguments. A port another test took between
// choosing and binding it is chosen again, with setup run again.
func startWatchProxy(t *testing.T, setup func(port int) []string) (*watchProc, int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port, err := redistest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		w := startWatch(t, append(setup(port), "--proxy-listen", fmt.Sprintf("127.0.0.1:%d", port))...)
		if w.liveOrPortTaken() {
			return w, port
		}
		if attempt == 3 {
			t.Fatalf("three free ports were taken before watch could bind them: %s", w.stderrText())
		}
	}
}

// liveOrPortTaken waits until watch is live (true), or has exited because its proxy's
// port was taken (false); any other end fails the test.
func (w *watchProc) liveOrPortTaken() bool {
	w.t.Helper()
	limit := time.After(30 * time.Second)
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.lines); seen++ {
			if l := w.lines[seen]; l.Type == model.TypeStatus && l.Inv != nil && l.Inv.Done {
				w.mu.Unlock()
				return true
			}
		}
		w.mu.Unlock()
		select {
		case <-w.notify:
		case <-w.done:
			if strings.Contains(w.stderrText(), "address already in use") {
				return false
			}
			w.t.Fatalf("watch exited before it was live: %s", w.stderrText())
		case <-limit:
			w.t.Fatalf("watch not live after 30 s: %s", w.stderrText())
		}
	}
}
