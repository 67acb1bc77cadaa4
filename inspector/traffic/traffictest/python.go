package traffictest

// Django and Flask apps: Python's session layers over Redis, each the framework's own
// code from Debian's packages, run with /usr/bin/python3 (the interpreter those
// packages are installed for).
//
// Observed store traffic (redis-server 7.0, read with MONITOR; A is the anonymous
// session, B the logged-in one; every request that carries a cookie first GETs its
// session, which raises no event):
//
// Django 3.2 + django-redis 5.2, SESSION_ENGINE cache (key
// :1:django.contrib.sessions.cache<key>, the session dict pickled with protocol 4,
// SET PX 1209600000: SESSION_COOKIE_AGE, two weeks):
//
//	GET /?cart=3        EXISTS A, SET A PX NX     (cart; create() adds, never overwrites)
//	POST /login         EXISTS B, SET B PX NX     (auth.login: cycle_key copies A to B,
//	                    DEL A                      then deletes A)
//	                    SET B PX                  (cart, _auth_user_id, _auth_user_backend,
//	                                               _auth_user_hash, api_token)
//	GET /dashboard      GET B                     (nothing changed: nothing written)
//	POST /logout        DEL B                     (auth.logout: flush; the cookie is
//	                                               cleared, no new session is written)
//
// Django 3.2 + django-redis-sessions 0.6.2, SESSION_ENGINE redis_sessions.session with
// the prefix "session" (key session:<key>, SessionBase.encode's signed text: base64url
// JSON, zlib-compressed and marked with a leading "." when that is shorter, then
// ":timestamp:signature"):
//
//	GET /?cart=3        EXISTS A, SETEX A 1209600
//	POST /login         EXISTS B, SETEX B (A's data), DEL A    (cycle_key)
//	                    SETEX B (with the login fields and api_token)
//	POST /logout        DEL B
//
// Flask 2.2 + Flask-Session 0.3.2 + Flask-Login 0.6.2 (key session:<uuid4>, the session
// dict pickled with protocol 4, SETEX 2678400: PERMANENT_SESSION_LIFETIME, 31 days; the
// cookie carries the bare id):
//
//	GET /?cart=3        SETEX A               (_permanent, cart)
//	POST /login         SETEX A               (login_user keeps the id: _user_id, _fresh,
//	                                           _id, api_token added)
//	GET /dashboard      SETEX A               (unchanged: every request writes)
//	POST /logout        DEL A                 (logout_user, then session.clear(); the
//	                                           cookie is cleared)
//
// Flask-Session 0.3 also writes a session holding only _permanent for every request
// that comes without a cookie, whatever the route.

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// The Python apps.
const (
	Django              Kind = "django"                // traffictest/testdata/django, cache sessions through django-redis
	DjangoRedisSessions Kind = "django-redis-sessions" // traffictest/testdata/django, SESSION_ENGINE redis_sessions.session
	Flask               Kind = "flask"                 // traffictest/testdata/flask, Flask-Session + Flask-Login
)

// Cookie names and key prefixes of the Python apps, as the frameworks default them
// (django-redis-sessions has no default prefix: "session" is what its README sets,
// joined to the key with a colon).
const (
	DjangoCookie                 = "sessionid"
	DjangoCacheKeyPrefix         = ":1:django.contrib.sessions.cache"
	DjangoRedisSessionsKeyPrefix = "session:"
	FlaskCookie                  = "session"
	FlaskKeyPrefix               = "session:"
)

// systemPython is the interpreter Debian's python3-* packages are installed for; a
// python3 earlier on PATH (pyenv) does not see them.
const systemPython = "/usr/bin/python3"

const (
	djangoInstallHint              = "apt-get install python3-django python3-django-redis"
	djangoRedisSessionsInstallHint = "apt-get install python3-django python3-django-redis-sessions"
	flaskInstallHint               = "apt-get install python3-flask python3-flask-session python3-flask-login python3-redis"
)

var (
	djangoSpec              = AppSpec{Kind: Django, Cookie: DjangoCookie, KeyPrefix: DjangoCacheKeyPrefix, ReadyLine: "listening"}
	djangoRedisSessionsSpec = AppSpec{Kind: DjangoRedisSessions, Cookie: DjangoCookie, KeyPrefix: DjangoRedisSessionsKeyPrefix, ReadyLine: "listening"}
	flaskSpec               = AppSpec{Kind: Flask, Cookie: FlaskCookie, KeyPrefix: FlaskKeyPrefix, ReadyLine: "listening"}
)

// StartDjango runs traffictest/testdata/django with Django's cache session backend
// over django-redis, on a free loopback port, with its sessions in the Redis at
// redisAddr (host:port). Without Django or django-redis the test is skipped (or fails
// under SESSIONSCOPE_REQUIRE_REAL=1).
func StartDjango(t testing.TB, redisAddr string) *App {
	t.Helper()
	return startDjango(t, djangoSpec, redisAddr, "cache", djangoInstallHint, "django", "django_redis")
}

// StartDjangoRedisSessions runs traffictest/testdata/django with django-redis-sessions'
// session engine (keys session:<key>), on a free loopback port, with its sessions in
// the Redis at redisAddr (host:port). Without Django or django-redis-sessions the test
// is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartDjangoRedisSessions(t testing.TB, redisAddr string) *App {
	t.Helper()
	return startDjango(t, djangoRedisSessionsSpec, redisAddr, "redis_sessions", djangoRedisSessionsInstallHint, "django", "redis_sessions", "redis")
}

func startDjango(t testing.TB, spec AppSpec, redisAddr, backend, installHint string, modules ...string) *App {
	t.Helper()
	if !pythonHas(t, installHint, modules...) {
		return nil
	}
	dir := AppDir(t, "django")
	dbDir := t.TempDir()
	return start(t, spec, dir, func(port int) *exec.Cmd {
		cmd := exec.Command(systemPython, "serve.py")
		cmd.Dir = dir
		cmd.Env = append(pythonEnv(port, redisAddr), "SESSION_BACKEND="+backend, "DJANGO_DB_DIR="+dbDir)
		return cmd
	})
}

// StartFlask runs traffictest/testdata/flask (Flask-Session + Flask-Login) on a free
// loopback port with its sessions in the Redis at redisAddr (host:port). Without
// Flask, Flask-Session, Flask-Login or redis-py the test is skipped (or fails under
// SESSIONSCOPE_REQUIRE_REAL=1).
func StartFlask(t testing.TB, redisAddr string) *App {
	t.Helper()
	if !pythonHas(t, flaskInstallHint, "flask", "flask_session", "flask_login", "redis") {
		return nil
	}
	dir := AppDir(t, "flask")
	return start(t, flaskSpec, dir, func(port int) *exec.Cmd {
		cmd := exec.Command(systemPython, "app.py")
		cmd.Dir = dir
		cmd.Env = pythonEnv(port, redisAddr)
		return cmd
	})
}

// pythonHas reports whether the system Python imports every module; when it does not,
// the test is skipped (or failed) with the install hint.
func pythonHas(t testing.TB, installHint string, modules ...string) bool {
	t.Helper()
	if _, err := os.Stat(systemPython); err != nil {
		inspectortest.Missing(t, systemPython+" not found; install it with: apt-get install python3, then: "+installHint)
		return false
	}
	probe := exec.Command(systemPython, "-c", "import "+strings.Join(modules, ", "))
	probe.Env = filterEnv(os.Environ(), pythonEnvDrop...)
	if out, err := probe.CombinedOutput(); err != nil {
		inspectortest.Missing(t, fmt.Sprintf("%s cannot import %s (%v: %s); install them with: %s",
			systemPython, strings.Join(modules, ", "), err, strings.TrimSpace(string(out)), installHint))
		return false
	}
	return true
}

// pythonEnvDrop are the variables that would point the system Python or the apps
// elsewhere: another interpreter's modules, other settings.
var pythonEnvDrop = []string{"PORT", "REDIS_URL", "SESSION_BACKEND", "DJANGO_DB_DIR", "DJANGO_SETTINGS_MODULE",
	"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "FLASK_APP", "FLASK_DEBUG"}

// pythonEnv is the environment of a Python app. Bytecode is not written: the apps
// live in the source tree.
func pythonEnv(port int, redisAddr string) []string {
	return append(filterEnv(os.Environ(), pythonEnvDrop...),
		"PORT="+strconv.Itoa(port), "REDIS_URL=redis://"+redisAddr+"/0",
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PYTHONNOUSERSITE=1")
}
