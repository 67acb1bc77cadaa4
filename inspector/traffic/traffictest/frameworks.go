package traffictest

// Laravel and Rack apps: two more real session layers, each the framework's own code
// over Redis, so integration tests see what they really send to the store.
//
// Observed store traffic (redis-server 7.0, read with MONITOR; A is the anonymous
// session, B the logged-in one, C the one the logout starts; every request first GETs
// its session, which raises no event):
//
// Laravel 8.83 session layer + phpredis 5.3.7 (key
// laravel_database_laravel_cache:<id>, SETEX 7200: the session lifetime, 120 minutes;
// Laravel writes the session at the end of every request):
//
//	GET /?cart=3        SETEX A   (_token, cart, _previous, _flash)
//	POST /login         DEL A     (migrate(true), during the request)
//	                    SETEX B   (A's data + login_web_<sha1>, new _token)
//	GET /dashboard      SETEX B   (_previous changed)
//	GET /dashboard      SETEX B   (unchanged)
//	POST /logout        DEL B     (invalidate(): flush + migrate(true))
//	                    SETEX C   (a new _token and an empty _flash only)
//	GET /               SETEX C   (_previous added)
//
// Rack 2.2 + redis-rack 2.1.2 (key rack:session:2::<sha256 of the cookie's id>, SETEX
// 7200 from expire_after; Ruby Marshal payloads; a request that loaded the session
// writes it back, changed or not):
//
//	GET /?cart=3        SETEX A
//	POST /login         DEL rack:session:<public id>  (the old key layout: no such key, no event)
//	                    DEL A     (renew)
//	                    SETEX B   (cart + user_id)
//	GET /dashboard      SETEX B   (unchanged), twice
//	POST /logout        DEL rack:session:<public id>  (no such key, no event)
//	                    DEL B     (session.destroy, i.e. Rails' reset_session)
//	                    SETEX C   (an empty hash)
//	GET /               SETEX C   (unchanged)

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// The Laravel and Rack apps.
const (
	Laravel Kind = "laravel" // traffictest/testdata/laravel, Laravel 8's session layer served by php -S
	Rack    Kind = "rack"    // traffictest/testdata/rack, Rack::Session::Redis under WEBrick
)

// Cookie names and key prefixes of the Laravel and Rack apps, as the frameworks
// default them.
const (
	LaravelCookie    = "laravel_session"
	LaravelKeyPrefix = "laravel_database_laravel_cache:"
	RackCookie       = "rack.session"
	RackKeyPrefix    = "rack:session:"
)

// SessionTTL is the TTL both apps give session keys: Laravel's default lifetime of 120
// minutes, and the Rack app's expire_after.
const SessionTTL = 7200

const (
	laravelInstallHint = "apt-get install php-cli php-redis php-laravel-framework"
	laravelAutoload    = "/usr/share/php/Illuminate/autoload.php"
	rackInstallHint    = "apt-get install ruby ruby-rack ruby-redis-rack ruby-webrick"
)

// StartLaravel serves traffictest/testdata/laravel with php -S on a free loopback
// port, its sessions going through Laravel's own session store into the Redis at
// redisAddr (host:port). Without php, its redis extension or Laravel the test is
// skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartLaravel(t testing.TB, redisAddr string) *App {
	t.Helper()
	php := inspectortest.Need(t, "php", laravelInstallHint)
	out, err := exec.Command(php, "-m").Output()
	if err != nil {
		inspectortest.Missing(t, fmt.Sprintf("php -m failed (%v); install PHP with: %s", err, laravelInstallHint))
		return nil
	}
	if !hasLine(string(out), "redis") {
		inspectortest.Missing(t, "php has no redis extension (php -m does not list redis); install it with: "+laravelInstallHint)
		return nil
	}
	if _, err := os.Stat(laravelAutoload); err != nil {
		inspectortest.Missing(t, "Laravel is not installed ("+laravelAutoload+" is missing); install it with: "+laravelInstallHint)
		return nil
	}
	host, port, err := net.SplitHostPort(redisAddr)
	if err != nil {
		t.Fatalf("traffictest: redis address %q: %v", redisAddr, err)
	}
	dir := AppDir(t, "laravel")
	return start(t, laravelSpec, dir, func(appPort int) *exec.Cmd {
		cmd := exec.Command(php, "-S", net.JoinHostPort("127.0.0.1", strconv.Itoa(appPort)),
			"-d", "display_errors=stderr", "index.php")
		cmd.Dir = dir
		cmd.Env = append(filterEnv(os.Environ(), "PHP_CLI_SERVER_WORKERS", "REDIS_HOST", "REDIS_PORT"),
			"REDIS_HOST="+host, "REDIS_PORT="+port)
		return cmd
	})
}

// StartRack runs traffictest/testdata/rack (ruby server.rb) on a free loopback port
// with its sessions in the Redis at redisAddr (host:port). Without ruby, rack,
// redis-rack or webrick the test is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartRack(t testing.TB, redisAddr string) *App {
	t.Helper()
	ruby := inspectortest.Need(t, "ruby", rackInstallHint)
	probe := exec.Command(ruby, "-e", "require 'rack'; require 'rack/handler/webrick'; require 'rack/session/redis'")
	if out, err := probe.CombinedOutput(); err != nil {
		inspectortest.Missing(t, fmt.Sprintf("ruby cannot load rack, webrick and redis-rack (%v: %s); install them with: %s", err, out, rackInstallHint))
		return nil
	}
	dir := AppDir(t, "rack")
	return start(t, rackSpec, dir, func(appPort int) *exec.Cmd {
		cmd := exec.Command(ruby, "server.rb")
		cmd.Dir = dir
		cmd.Env = append(filterEnv(os.Environ(), "PORT", "REDIS_URL", "RUBYOPT"),
			"PORT="+strconv.Itoa(appPort), "REDIS_URL=redis://"+redisAddr+"/0")
		return cmd
	})
}

// SessionKey is the Redis key under which the app keeps the session whose cookie
// carries cookieValue. Rack 2.2 stores a session under its private id, "2::" and the
// SHA-256 of the id the cookie carries, so that a read of the store does not yield
// usable cookies; the other apps store it under the id itself.
func (a *App) SessionKey(cookieValue string) (string, error) {
	if a.spec.SessionKey != nil {
		return a.spec.SessionKey(cookieValue)
	}
	id, err := a.StoreID(cookieValue)
	if err != nil {
		return "", err
	}
	return a.KeyPrefix + id, nil
}

// RackPrivateID is the id under which Rack 2.2 stores the session whose cookie
// carries publicID.
func RackPrivateID(publicID string) string {
	sum := sha256.Sum256([]byte(publicID))
	return "2::" + hex.EncodeToString(sum[:])
}

// NewClientVia returns a client with an empty cookie jar that sends its requests to
// base (a proxy in front of the app) instead of the app itself.
func (a *App) NewClientVia(base string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("traffictest: bad base URL %q: %w", base, err)
	}
	c := a.NewClient()
	jar, _ := cookiejar.New(nil) // never fails without options
	c.base, c.jar, c.http.Jar = u, jar, jar
	return c, nil
}
