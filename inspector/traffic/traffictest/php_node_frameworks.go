package traffictest

// Symfony, fastify and koa apps: three more real session layers over Redis, each the
// framework's own session code, so integration tests see what they really send.
//
// Observed store traffic (redis-server 7.0, read with MONITOR; A is the anonymous
// session, B the logged-in one):
//
// Symfony 5.4 HttpFoundation (Session + NativeSessionStorage + RedisSessionHandler) +
// phpredis 5.3.7 (key sf_s<id>, SETEX 1440 from session.gc_maxlifetime; payload in
// PHP's php serialize handler: _sf2_attributes|a:..., _sf2_meta|a:3:{u,c,l}):
//
//	GET /?cart=3        SETEX A   (_sf2_attributes: cart)
//	POST /login         UNLINK A  (migrate(true), during the request)
//	                    SETEX B   (cart, _security_main: serialize($token), api_token)
//	GET /dashboard      EXPIRE B  (lazy write: unchanged within the same second;
//	                               otherwise SETEX B with _sf2_meta.u updated)
//	POST /logout        UNLINK B  (invalidate(): clear + migrate(true)); the emptied
//	                              session is never written, and PHP expires the cookie
//
// fastify 5.12 + @fastify/session 11.1 + connect-redis 9.0 + redis (node-redis) 5.12
// (key sess:<id>, SET EX 86400 from the cookie's maxAge; JSON whose cookie object
// starts with "expires"; rolling: every request that loads the session saves it):
//
//	GET /?cart=3        SET A
//	POST /login         DEL A     (regenerate(["cart"]))
//	                    SET B     (cookie and cart only: regenerate saves at once)
//	                    SET B     (+ userId, api_token: onSend)
//	GET /dashboard      SET B     (rolling)
//	POST /logout        DEL B     (session.destroy(); the cookie cleared)
//
// koa 3.3 + koa-session 7.0 + koa-redis 4.0 (ioredis 4) (key: the bare external key, a
// UUID; SETEX 86410, the maxAge plus koa-session's ten seconds; JSON with _expire and
// _maxAge after the app's fields):
//
//	GET /?cart=3        SETEX A
//	POST /login         DEL A     (ctx.session.regenerate(): at once)
//	                    SETEX B   (cart only)
//	                    SETEX B   (+ user, api_token: the commit after the handler)
//	GET /dashboard      (nothing: unchanged and not rolling)
//	POST /logout        DEL B     (ctx.session = null; both cookies expired)

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionscope/sessionscope/inspector/inspectortest"
)

// The Symfony, fastify and koa apps.
const (
	Symfony Kind = "symfony" // traffictest/testdata/symfony, Symfony's HttpFoundation session served by php -S
	Fastify Kind = "fastify" // traffictest/testdata/node/fastify.js, @fastify/session + connect-redis
	Koa     Kind = "koa"     // traffictest/testdata/node/koa.js, koa-session + koa-redis
)

// Cookie names and key prefixes of the Symfony, fastify and koa apps, as the
// frameworks default them. koa-redis stores sessions under their bare external key.
const (
	SymfonyCookie    = "PHPSESSID"
	SymfonyKeyPrefix = "sf_s"
	FastifyCookie    = "sessionId"
	FastifyKeyPrefix = "sess:"
	KoaCookie        = "koa.sess"
	KoaKeyPrefix     = ""
)

// SymfonyPasswordHash is the password hash of the Symfony app's user, which the
// firewall's token carries into the session (the app's index.php holds the same).
const SymfonyPasswordHash = "$2y$13$dCtqHF5XXuLh14PsOKj3a.4v9NEhtwsIWgbH9JuXsP2C4Q9lj4gte"

// SymfonySessionTTL is the TTL RedisSessionHandler gives session keys: php.ini's
// session.gc_maxlifetime, which the app leaves at PHP's default.
const SymfonySessionTTL = 1440

const (
	symfonyInstallHint = "apt-get install php-cli php-redis php-symfony-http-foundation"
	symfonyAutoload    = "/usr/share/php/Symfony/Component/HttpFoundation/autoload.php"
)

var (
	symfonySpec = AppSpec{Kind: Symfony, Cookie: SymfonyCookie, KeyPrefix: SymfonyKeyPrefix}
	fastifySpec = AppSpec{Kind: Fastify, Cookie: FastifyCookie, KeyPrefix: FastifyKeyPrefix, ReadyLine: "listening", StoreID: FastifySessionID}
	koaSpec     = AppSpec{Kind: Koa, Cookie: KoaCookie, KeyPrefix: KoaKeyPrefix, ReadyLine: "listening"}
)

// StartSymfony serves traffictest/testdata/symfony with php -S on a free loopback
// port, its sessions going through Symfony's RedisSessionHandler into the Redis at
// redisAddr (host:port). Without php, its redis extension or Symfony's HttpFoundation
// the test is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartSymfony(t testing.TB, redisAddr string) *App {
	t.Helper()
	php := inspectortest.Need(t, "php", symfonyInstallHint)
	out, err := exec.Command(php, "-m").Output()
	if err != nil {
		inspectortest.Missing(t, fmt.Sprintf("php -m failed (%v); install PHP with: %s", err, symfonyInstallHint))
		return nil
	}
	if !hasLine(string(out), "redis") {
		inspectortest.Missing(t, "php has no redis extension (php -m does not list redis); install it with: "+symfonyInstallHint)
		return nil
	}
	if _, err := os.Stat(symfonyAutoload); err != nil {
		inspectortest.Missing(t, "Symfony HttpFoundation is not installed ("+symfonyAutoload+" is missing); install it with: "+symfonyInstallHint)
		return nil
	}
	host, port, err := net.SplitHostPort(redisAddr)
	if err != nil {
		t.Fatalf("traffictest: redis address %q: %v", redisAddr, err)
	}
	dir := AppDir(t, "symfony")
	return start(t, symfonySpec, dir, func(appPort int) *exec.Cmd {
		// The session settings Symfony does not set itself are pinned here, so that a
		// php.ini elsewhere does not change the payload format, the cookie or the TTL.
		cmd := exec.Command(php, "-S", net.JoinHostPort("127.0.0.1", strconv.Itoa(appPort)),
			"-d", "display_errors=stderr",
			"-d", "session.serialize_handler=php",
			"-d", "session.name="+SymfonyCookie,
			"-d", "session.gc_maxlifetime="+strconv.Itoa(SymfonySessionTTL),
			"-d", "session.lazy_write=1",
			"-d", "session.auto_start=0",
			"index.php")
		cmd.Dir = dir
		cmd.Env = append(filterEnv(os.Environ(), "PHP_CLI_SERVER_WORKERS", "REDIS_HOST", "REDIS_PORT"),
			"REDIS_HOST="+host, "REDIS_PORT="+port)
		return cmd
	})
}

// StartFastify runs traffictest/testdata/node/fastify.js on a free loopback port with
// its sessions in the Redis at redisAddr (host:port). Without node, or without the
// app's node_modules, the test is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartFastify(t testing.TB, redisAddr string) *App {
	t.Helper()
	return startNodeScript(t, fastifySpec, "fastify.js", redisAddr, "fastify", "@fastify/session", "@fastify/cookie", "connect-redis")
}

// StartKoa runs traffictest/testdata/node/koa.js on a free loopback port with its
// sessions in the Redis at redisAddr (host:port). Without node, or without the app's
// node_modules, the test is skipped (or fails under SESSIONSCOPE_REQUIRE_REAL=1).
func StartKoa(t testing.TB, redisAddr string) *App {
	t.Helper()
	return startNodeScript(t, koaSpec, "koa.js", redisAddr, "koa", "koa-session", "koa-redis")
}

// startNodeScript runs one of the Node test app's scripts, after checking that the
// modules it needs are installed.
func startNodeScript(t testing.TB, spec AppSpec, script, redisAddr string, modules ...string) *App {
	t.Helper()
	node := inspectortest.Need(t, "node", "apt-get install nodejs npm, then: "+nodeInstallHint)
	dir := AppDir(t, "node")
	for _, m := range modules {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(m), "package.json")); err != nil {
			inspectortest.Missing(t, fmt.Sprintf("the Node test app's dependencies are not installed (no %s); run: %s", m, nodeInstallHint))
			return nil
		}
	}
	redisURL := "redis://" + redisAddr + "/0"
	return start(t, spec, dir, func(port int) *exec.Cmd {
		cmd := exec.Command(node, script)
		cmd.Dir = dir
		cmd.Env = append(filterEnv(os.Environ(), "PORT", "REDIS_URL", "NODE_OPTIONS", "SESSION_SECRET"),
			"PORT="+strconv.Itoa(port), "REDIS_URL="+redisURL, "NODE_ENV=test")
		return cmd
	})
}

// FastifySessionID is the store id in a @fastify/session cookie: the value is
// "<id>.<signature>", URL-encoded (the signature is base64 and may hold + and /).
func FastifySessionID(value string) (string, error) {
	v, err := url.PathUnescape(value)
	if err != nil {
		return "", fmt.Errorf("traffictest: %s cookie %q: %w", FastifyCookie, value, err)
	}
	dot := strings.LastIndexByte(v, '.')
	if dot <= 0 {
		return "", fmt.Errorf("traffictest: %s cookie %q has no signature", FastifyCookie, value)
	}
	return v[:dot], nil
}
