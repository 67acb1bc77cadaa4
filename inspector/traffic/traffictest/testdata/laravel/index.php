<?php
// Laravel 8's session layer, wired by hand the way the framework wires its `redis`
// session driver, and driven the way its StartSession middleware, SessionGuard and
// the default auth controllers drive it. Served by `php -S 127.0.0.1:PORT index.php`
// (this file is the router), with REDIS_HOST and REDIS_PORT in the environment.
//
// Every object below is Laravel's own class from /usr/share/php/Illuminate
// (php-laravel-framework): the store, the cache-based handler, the Redis cache store
// and the Redis manager with the phpredis client. Only the HTTP glue is plain PHP.
//
// Routes:
//   GET  /health.txt  readiness probe, touches no session
//   GET  /?cart=N     anonymous page: starts the session (_token), keeps cart
//   POST /login       SessionGuard::login: put login_web_<sha1>, migrate(true), regenerateToken();
//                     keeps the form's api_token in the session when given
//   GET  /dashboard   reads the session; redirects to / without a user
//   POST /logout      logout: invalidate() + regenerateToken(), redirect to /
// Every request that starts the session saves it at the end, as Laravel does.

declare(strict_types=1);

require_once '/usr/share/php/Illuminate/autoload.php';

use Illuminate\Cache\RedisStore;
use Illuminate\Cache\Repository;
use Illuminate\Container\Container;
use Illuminate\Redis\RedisManager;
use Illuminate\Session\CacheBasedSessionHandler;
use Illuminate\Session\Store;

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];

if ($path === '/health.txt') {
    header('Content-Type: text/plain');
    echo "ok\n";
    return;
}

// config/session.php defaults: driver redis, lifetime 120 minutes, cookie
// laravel_session, path /, http_only, same_site lax; and SESSION_SECURE_COOKIE=true:
// the app is served on loopback, a secure context, so the cookie can be Secure there
// as in production.
const SESSION_COOKIE = 'laravel_session';
const SESSION_LIFETIME_MINUTES = 120;
// The guard's session key: 'login_'.$guardName.'_'.sha1(SessionGuard::class).
const LOGIN_KEY = 'login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d';

// config/database.php: options.prefix = Str::slug(APP_NAME, '_').'_database_',
// config/cache.php: prefix = Str::slug(APP_NAME, '_').'_cache'; RedisStore adds the ':'.
$redis = new RedisManager(new Container(), 'phpredis', [
    'options' => ['cluster' => 'redis', 'prefix' => 'laravel_database_'],
    'default' => [
        'host' => getenv('REDIS_HOST') ?: '127.0.0.1',
        'port' => (int) (getenv('REDIS_PORT') ?: 6379),
        'password' => null,
        'database' => 0,
    ],
]);
$cache = new Repository(new RedisStore($redis, 'laravel_cache', 'default'));
$session = new Store(SESSION_COOKIE, new CacheBasedSessionHandler($cache, SESSION_LIFETIME_MINUTES));

// StartSession::getSession: an invalid or missing id gets a fresh one.
$session->setId($_COOKIE[SESSION_COOKIE] ?? null);
$session->start();

$status = 200;
$location = null;
$body = '';
switch ("$method $path") {
    case 'GET /':
        if (isset($_GET['cart'])) {
            $session->put('cart', (int) $_GET['cart']);
        }
        $body = 'cart ' . json_encode($session->get('cart')) . "\n";
        break;
    case 'POST /login':
        if (($_POST['user'] ?? '') === '') {
            $status = 400;
            $body = "user is required\n";
            break;
        }
        // SessionGuard::updateSession: put the user id, then migrate(true), which
        // deletes the old session from the store at once; then the controller's
        // regenerateToken(). The new id is written when the request ends.
        $session->put(LOGIN_KEY, 42);
        if (($_POST['api_token'] ?? '') !== '') {
            $session->put('api_token', $_POST['api_token']);
        }
        $session->migrate(true);
        $session->regenerateToken();
        [$status, $location] = [302, '/dashboard'];
        break;
    case 'GET /dashboard':
        $user = $session->get(LOGIN_KEY);
        if ($user === null) {
            [$status, $location] = [302, '/'];
            break;
        }
        $body = "hello user $user\n";
        break;
    case 'POST /logout':
        // Auth::logout() then $request->session()->invalidate() (flush + migrate(true))
        // and regenerateToken(): the logged-in session is deleted and a fresh one,
        // holding only the new token, is written at the end of the request.
        $session->remove(LOGIN_KEY);
        $session->invalidate();
        $session->regenerateToken();
        [$status, $location] = [302, '/'];
        break;
    default:
        $status = 404;
        $body = "not found\n";
}

// StartSession::storeCurrentUrl: GET requests to a route remember their URL as _previous.
if ($method === 'GET' && $status !== 404) {
    $session->setPreviousUrl('http://' . $_SERVER['HTTP_HOST'] . $_SERVER['REQUEST_URI']);
}

// StartSession::addCookieToResponse, then saveSession: the cookie carries the current
// id (plain here; a full Laravel app encrypts it with EncryptCookies), and the session
// is written before the response leaves.
setcookie(SESSION_COOKIE, $session->getId(), [
    'expires' => time() + SESSION_LIFETIME_MINUTES * 60,
    'path' => '/',
    'secure' => true,
    'httponly' => true,
    'samesite' => 'Lax',
]);
$session->save();

http_response_code($status);
if ($location !== null) {
    header('Location: ' . $location);
}
header('Content-Type: text/plain');
echo $body;
