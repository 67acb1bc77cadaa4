// Package traffictest starts the real-framework test apps in inspector/traffic/traffictest/testdata (PHP with
// phpredis, Node with express-session + connect-redis) against a test's Redis and
// drives their login flows step by step, so integration tests observe what the real
// frameworks send to the store instead of what we believe they send.
//
// Observed store traffic (redis-server 7.0, notify-keyspace-events "Eg$hxen" -- the
// "new" events need flag n --, PSUBSCRIBE __keyevent@0__:*; TestLoginFlowKeyEvents
// asserts these sequences and logs them). Each entry is "<event> <key>"; A is the anonymous session's id, B the id
// after login; commands in parentheses were read from MONITOR. Every request also
// GETs its session first, which raises no event. These are the facts the tracker's
// inference relies on.
//
// PHP 8.2 + phpredis 5.3.7 (key PHPREDIS_SESSION:<id>, SETEX with TTL
// session.gc_maxlifetime = 1440; lazy_write=1, use_strict_mode=0, locking off):
//
//	regen=true  (session_regenerate_id(true))
//	  index      new A, set A, expire A        (SETEX A "csrf|s:16:...;")
//	  login      del A                         (DEL A: the old id is destroyed at once)
//	             new B, set B, expire B        (SETEX B "csrf|...;user_id|i:42;", on a
//	                                            second connection, at session_write_close)
//	  dashboard  expire B                      (EXPIRE B 1440: lazy write, data unchanged)
//	  logout     del B                         (DEL B: session_destroy)
//
//	regen=false (session_regenerate_id(false))
//	  index      new A, set A, expire A
//	  login      set A, expire A               (SETEX A with its old data, unchanged:
//	                                            regenerate(false) writes the old session
//	                                            unconditionally, lazy_write notwithstanding)
//	             new B, set B, expire B        (SETEX B with old data + user_id)
//	  dashboard  expire B
//	  logout     del B                         (A is never deleted: it lives until its TTL)
//
//	regen=none  (no regeneration: the fixation-prone variant)
//	  index      new A, set A, expire A
//	  login      set A, expire A               (SETEX A, now with user_id; no "new")
//	  dashboard  expire A
//	  logout     del A
//
// express 5.2.1 + express-session 1.19.0 + connect-redis 9.0.0 + redis (node-redis)
// 5.12.1 (key sess:<id>, SET EX 86400 from the cookie's one-day maxAge; resave=false,
// saveUninitialized=false):
//
//	index      new A, set A, expire A          (SET A {"cookie":{...},"csrf":...} EX 86400)
//	login      del A                           (req.session.regenerate: store.destroy(A))
//	           new B, set B, expire B          (the explicit req.session.save)
//	           set B, expire B                 (express-session saves again when the
//	                                            response ends: the regenerated session
//	                                            counts as modified. The payload differs at
//	                                            most in cookie.expires, by milliseconds)
//	dashboard  expire B                        (store.touch: EXPIRE B 86400)
//	logout     del B                           (req.session.destroy)
//
// The cookies carry A and B as PHPSESSID=<id> (PHP) and connect.sid=s%3A<id>.<signature>
// (Node); Response.SessionID and Flow hold the plain store ids.
package traffictest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionscope/sessionscope/inspector/backend/redisstore/redistest"
	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// Kind names a test app.
type Kind string

// The test apps.
const (
	PHP  Kind = "php"  // traffictest/testdata/php served by php -S, sessions in phpredis
	Node Kind = "node" // traffictest/testdata/node, express-session + connect-redis
)

// Cookie names and key prefixes of the apps, as the frameworks default them.
const (
	PHPCookie     = "PHPSESSID"
	PHPKeyPrefix  = "PHPREDIS_SESSION:"
	NodeCookie    = "connect.sid"
	NodeKeyPrefix = "sess:"
)

// PHPSessionTTL is the TTL phpredis gives session keys (session.gc_maxlifetime).
const PHPSessionTTL = 1440

const (
	phpInstallHint  = "apt-get install php-cli php-redis"
	nodeInstallHint = "cd traffictest/testdata/node && npm ci"
	startAttempts   = 3
	startTimeout    = 30 * time.Second
)

// App is a running test app owned by one test; it is stopped at the test's cleanup.
type App struct {
	Kind       Kind
	BaseURL    string // http://127.0.0.1:<port>, no trailing slash
	Port       int
	Dir        string // the app's directory under inspector/traffic/traffictest/testdata
	CookieName string // the session cookie's name
	KeyPrefix  string // the Redis key prefix of its sessions

	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // the process's exit error, valid once done is closed
	spec   AppSpec
}

// AppSpec describes a kind of test app to start: what its cookie and keys are
// called, how it says it is ready, and how a cookie value becomes its store id.
type AppSpec struct {
	Kind      Kind
	Cookie    string // the session cookie's name
	KeyPrefix string // the Redis key prefix of its sessions
	// ReadyLine, when set, is the start of the stdout line the app prints once it
	// serves; otherwise the app is ready when GET /health.txt answers 200 (a route
	// that touches no session).
	ReadyLine string
	// StoreID maps the cookie's value to the id the store keys the session by; nil:
	// the value is the id.
	StoreID func(cookieValue string) (string, error)
	// SessionKey maps the cookie's value to the Redis key of its session; nil:
	// KeyPrefix and the store id.
	SessionKey func(cookieValue string) (string, error)
	// Host is the loopback address the app listens on; "" is 127.0.0.1.
	Host string
}

var (
	phpSpec     = AppSpec{Kind: PHP, Cookie: PHPCookie, KeyPrefix: PHPKeyPrefix}
	nodeSpec    = AppSpec{Kind: Node, Cookie: NodeCookie, KeyPrefix: NodeKeyPrefix, ReadyLine: "listening", StoreID: ConnectSID}
	laravelSpec = AppSpec{Kind: Laravel, Cookie: LaravelCookie, KeyPrefix: LaravelKeyPrefix}
	rackSpec    = AppSpec{Kind: Rack, Cookie: RackCookie, KeyPrefix: RackKeyPrefix,
		SessionKey: func(v string) (string, error) { return RackKeyPrefix + RackPrivateID(v), nil }}
)

// StartPHP serves traffictest/testdata/php with php -S on a free loopback port, storing
// sessions through phpredis in the Redis at redisAddr (host:port). Without php or its
// redis extension the test is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
// ini settings ("session.cookie_domain=app.example.com") override the defaults, to break
// the app on purpose.
func StartPHP(t testing.TB, redisAddr string, ini ...string) *App {
	t.Helper()
	return StartPHPApp(t, "php", redisAddr, ini...)
}

// StartPHPApp is StartPHP for the app in traffictest/testdata/<name> (php8/<case> for
// the diagnosis cases): the same php -S with phpredis and the same session settings,
// its files served as the document root. A file health.txt must be there.
func StartPHPApp(t testing.TB, name, redisAddr string, ini ...string) *App {
	t.Helper()
	return StartPHPServer(t, name, redisAddr, PHPServer{}, ini...)
}

// PHPServer places and sizes a php -S server.
type PHPServer struct {
	// Host is the loopback address it listens on ("127.0.0.2" for a second server a
	// HAR's serverIPAddress tells apart); "" is 127.0.0.1.
	Host string
	// Workers is PHP_CLI_SERVER_WORKERS: how many requests it serves at once. Below 2
	// it serves one at a time, and a request waits for the one before to end.
	Workers int
}

// StartPHPServer is StartPHPApp with the server placed and sized by srv. ini may
// switch the save handler (session.save_handler=files with its save_path) to give
// each server a store of its own.
func StartPHPServer(t testing.TB, name, redisAddr string, srv PHPServer, ini ...string) *App {
	t.Helper()
	php := inspectortest.Need(t, "php", phpInstallHint)
	out, err := exec.Command(php, "-m").Output()
	if err != nil {
		inspectortest.Missing(t, fmt.Sprintf("php -m failed (%v); install PHP with: %s", err, phpInstallHint))
		return nil
	}
	if !hasLine(string(out), "redis") {
		inspectortest.Missing(t, "php has no redis extension (php -m does not list redis); install it with: "+phpInstallHint)
		return nil
	}
	dir := AppDir(t, name)
	spec := phpSpec
	spec.Host = srv.Host
	return start(t, spec, dir, func(port int) *exec.Cmd {
		args := phpArgs(dir, spec.host(), redisAddr, port)
		for _, setting := range ini {
			args = append(args, "-d", setting) // later -d flags win: a test can break the app
		}
		cmd := exec.Command(php, args...)
		cmd.Dir = dir
		cmd.Env = filterEnv(os.Environ(), "PHP_CLI_SERVER_WORKERS")
		if srv.Workers > 1 {
			cmd.Env = append(cmd.Env, "PHP_CLI_SERVER_WORKERS="+strconv.Itoa(srv.Workers))
		}
		return cmd
	})
}

func (s AppSpec) host() string { return cmp.Or(s.Host, "127.0.0.1") }

// phpArgs are the php -S arguments. The php.ini of the system is kept (it loads the
// redis extension on Debian); every session setting the flows depend on is set here.
func phpArgs(dir, host, redisAddr string, port int) []string {
	return []string{
		"-S", net.JoinHostPort(host, strconv.Itoa(port)),
		"-t", dir,
		"-d", "session.save_handler=redis",
		"-d", "session.save_path=tcp://" + redisAddr,
		"-d", "session.serialize_handler=php",
		"-d", "session.use_strict_mode=0",
		"-d", "session.use_cookies=1",
		"-d", "session.use_only_cookies=1",
		"-d", "session.name=" + PHPCookie,
		"-d", "session.gc_maxlifetime=" + strconv.Itoa(PHPSessionTTL),
		"-d", "session.lazy_write=1",
		"-d", "session.auto_start=0",
		"-d", "redis.session.locking_enabled=0",
		"-d", "display_errors=stderr",
	}
}

// StartNode runs traffictest/testdata/node (node app.js) on a free loopback port with its
// sessions in the Redis at redisURL. Without node, or without the app's node_modules,
// the test is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartNode(t testing.TB, redisURL string) *App {
	t.Helper()
	return StartNodeEnv(t, redisURL)
}

// StartNodeEnv is StartNode with extra environment settings (NAME=value) for the
// app's knobs, e.g. STORE_TTL=60.
func StartNodeEnv(t testing.TB, redisURL string, env ...string) *App {
	t.Helper()
	node := inspectortest.Need(t, "node", "apt-get install nodejs npm, then: "+nodeInstallHint)
	dir := AppDir(t, "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "connect-redis")); err != nil {
		inspectortest.Missing(t, "the Node test app's dependencies are not installed; run: "+nodeInstallHint)
		return nil
	}
	return start(t, nodeSpec, dir, func(port int) *exec.Cmd {
		cmd := exec.Command(node, "app.js")
		cmd.Dir = dir
		cmd.Env = append(filterEnv(os.Environ(), "PORT", "REDIS_URL", "NODE_OPTIONS"),
			"PORT="+strconv.Itoa(port), "REDIS_URL="+redisURL, "NODE_ENV=test")
		cmd.Env = append(cmd.Env, env...)
		return cmd
	})
}

// start launches the app on a free port, retrying when the port was taken between
// choosing and binding it, and registers its cleanup.
func start(t testing.TB, spec AppSpec, dir string, command func(port int) *exec.Cmd) *App {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := redistest.FreePort()
		if err != nil {
			t.Fatalf("traffictest: find a free port: %v", err)
		}
		a := &App{
			Kind: spec.Kind, Port: port, Dir: dir, CookieName: spec.Cookie, KeyPrefix: spec.KeyPrefix, spec: spec,
			BaseURL: "http://" + net.JoinHostPort(spec.host(), strconv.Itoa(port)),
			stdout:  &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}),
		}
		a.cmd = command(port)
		a.cmd.Stdout, a.cmd.Stderr = a.stdout, a.stderr
		ownGroup(a.cmd)
		if err := a.cmd.Start(); err != nil {
			t.Fatalf("traffictest: start %s app: %v", spec.Kind, err)
		}
		go func() {
			a.err = a.cmd.Wait()
			close(a.done)
		}()
		if err := a.waitReady(startTimeout); err != nil {
			a.stop()
			lastErr = fmt.Errorf("%w\n%s", err, a.Output())
			continue
		}
		t.Cleanup(func() {
			a.stop()
			if t.Failed() {
				t.Logf("traffictest: %s app output:\n%s", spec.Kind, a.Output())
			}
		})
		return a
	}
	t.Fatalf("traffictest: the %s app did not start: %v", spec.Kind, lastErr)
	return nil
}

// waitReady waits until the app answers: most apps serve health.txt (which touches no
// session); the Node app prints "listening" once Redis and HTTP are both up.
func (a *App) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if a.spec.ReadyLine != "" {
			if hasLinePrefix(a.stdout.String(), a.spec.ReadyLine) {
				return nil
			}
		} else if resp, err := client.Get(a.BaseURL + "/health.txt"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-a.done:
			return fmt.Errorf("%s app exited before it was ready: %v", a.Kind, a.err)
		case <-ctx.Done():
			return fmt.Errorf("%s app not ready on %s within %s", a.Kind, a.BaseURL, limit)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// stop kills the process and waits for it; it is safe to call twice.
func (a *App) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	killGroup(a.cmd) // the process and any worker it forked
	<-a.done
}

// Output is what the app has printed so far (stdout, then stderr); tests log it when
// they fail.
func (a *App) Output() string {
	return fmt.Sprintf("--- stdout\n%s--- stderr\n%s", a.stdout.String(), a.stderr.String())
}

// Key is the Redis key under which the app stores the session with this store id.
func (a *App) Key(id string) string { return a.KeyPrefix + id }

// AppDir finds the test app <name> (php, node) in this package's testdata: next to this source file when the build kept
// source paths, otherwise by walking up from the working directory to go.mod.
func AppDir(t testing.TB, name string) string {
	t.Helper()
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), "testdata", name))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				candidates = append(candidates, filepath.Join(dir, "inspector", "traffic", "traffictest", "testdata", name))
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return filepath.Clean(c)
		}
	}
	t.Fatalf("traffictest: cannot find test app %s (looked in %v)", name, candidates)
	return ""
}

func hasLine(s, want string) bool {
	for line := range strings.Lines(s) {
		if strings.EqualFold(strings.TrimSpace(line), want) {
			return true
		}
	}
	return false
}

func hasLinePrefix(s, prefix string) bool {
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

func filterEnv(env []string, drop ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			if name == d {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// syncBuffer is an io.Writer safe for the process's output goroutines and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
