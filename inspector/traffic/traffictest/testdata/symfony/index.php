<?php
// Symfony 5.4's session layer, wired by hand the way FrameworkBundle wires a Redis
// session handler (framework.session.handler_id: RedisSessionHandler over a phpredis
// \Redis), and driven the way the security firewall drives it. Served by
// `php -S 127.0.0.1:PORT index.php` (this file is the router), with REDIS_HOST and
// REDIS_PORT in the environment.
//
// Session, NativeSessionStorage, MetadataBag and RedisSessionHandler are Symfony's own
// classes from /usr/share/php/Symfony/Component/HttpFoundation
// (php-symfony-http-foundation). The security component is not installed, so the two
// classes whose serialized form Symfony keeps under _security_<firewall> are declared
// below with the same names and serialization; only the HTTP glue is plain PHP.
//
// Routes:
//   GET  /health.txt  readiness probe, touches no session
//   GET  /?cart=N     anonymous page: keeps cart in the session
//   POST /login       what the firewall does on a successful form login:
//                     SessionAuthenticationStrategy's migrate(true), then
//                     ContextListener stores serialize($token) under _security_main;
//                     keeps the form's api_token in the session when given
//   GET  /dashboard   reads the token; redirects to / without one
//   POST /logout      LogoutListener with invalidate_session: $session->invalidate()
// Every request that started the session saves it before the response, as
// FrameworkBundle's SessionListener does.

declare(strict_types=1);

namespace Symfony\Component\Security\Core\Authentication\Token {
    // The security component's token, reduced to its serialized shape (Symfony 5.4):
    // UsernamePasswordToken::__serialize() is [credentials, firewallName,
    // AbstractToken::__serialize()], the latter [user, authenticated, null,
    // attributes, roleNames]. Credentials are erased (null) before the token is stored.
    final class UsernamePasswordToken
    {
        private $user;
        private $firewallName;
        private $roleNames;

        public function __construct($user, string $firewallName, array $roles)
        {
            $this->user = $user;
            $this->firewallName = $firewallName;
            $this->roleNames = $roles;
        }

        public function __serialize(): array
        {
            return [null, $this->firewallName, [$this->user, true, null, [], $this->roleNames]];
        }

        public function __unserialize(array $data): void
        {
            [, $this->firewallName, [$this->user, , , , $this->roleNames]] = $data;
        }
    }
}

namespace App\Entity {
    // The user class `make:user` generates for a Doctrine-backed login: its private
    // properties serialize with their class-qualified, NUL-delimited names.
    class User
    {
        private ?int $id;
        private string $email;
        private array $roles;
        private ?string $password;

        public function __construct(int $id, string $email, array $roles, string $passwordHash)
        {
            $this->id = $id;
            $this->email = $email;
            $this->roles = $roles;
            $this->password = $passwordHash;
        }
    }
}

namespace {
    require_once '/usr/share/php/Symfony/Component/HttpFoundation/autoload.php';

    use App\Entity\User;
    use Symfony\Component\HttpFoundation\Session\Session;
    use Symfony\Component\HttpFoundation\Session\Storage\Handler\RedisSessionHandler;
    use Symfony\Component\HttpFoundation\Session\Storage\MetadataBag;
    use Symfony\Component\HttpFoundation\Session\Storage\NativeSessionStorage;
    use Symfony\Component\Security\Core\Authentication\Token\UsernamePasswordToken;

    // The firewall's name in security.yaml; the token's session key is derived from it.
    const FIREWALL = 'main';
    const SECURITY_KEY = '_security_' . FIREWALL;
    // The user's stored password hash (bcrypt, cost 13, as Symfony's "auto" hasher
    // makes them). The token carries it into the session: AbstractToken compares it
    // on refresh to log the user out after a password change. Fixed, so tests can
    // look for it where it must not be shown.
    const USER_PASSWORD_HASH = '$2y$13$dCtqHF5XXuLh14PsOKj3a.4v9NEhtwsIWgbH9JuXsP2C4Q9lj4gte';

    $path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
    $method = $_SERVER['REQUEST_METHOD'];

    if ($path === '/health.txt') {
        header('Content-Type: text/plain');
        echo "ok\n";
        return;
    }

    $redis = new \Redis();
    $redis->connect(getenv('REDIS_HOST') ?: '127.0.0.1', (int) (getenv('REDIS_PORT') ?: 6379));

    // FrameworkBundle's session defaults: HttpOnly, SameSite=Lax, the cookie secure
    // only over HTTPS (cookie_secure: auto), PHPSESSID from php.ini; TTL from
    // session.gc_maxlifetime (RedisSessionHandler's default), key prefix sf_s.
    $session = new Session(new NativeSessionStorage([
        'cookie_httponly' => true,
        'cookie_samesite' => 'lax',
        'cookie_secure' => false,
        'use_strict_mode' => true,
    ], new RedisSessionHandler($redis), new MetadataBag()));
    $session->start();

    $status = 200;
    $location = null;
    $body = '';
    switch ("$method $path") {
        case 'GET /':
            if (isset($_GET['cart'])) {
                $session->set('cart', (int) $_GET['cart']);
            }
            $body = 'cart ' . json_encode($session->get('cart')) . "\n";
            break;
        case 'POST /login':
            $user = $_POST['user'] ?? '';
            if ($user === '') {
                $status = 400;
                $body = "user is required\n";
                break;
            }
            // SessionAuthenticationStrategy (strategy "migrate"): a new id, the old
            // session destroyed at once, its attributes kept.
            $session->migrate(true);
            $token = new UsernamePasswordToken(
                new User(42, $user . '@example.com', ['ROLE_USER'], USER_PASSWORD_HASH),
                FIREWALL,
                ['ROLE_USER'],
            );
            // ContextListener::onKernelResponse: the token, serialized, under the
            // firewall's key.
            $session->set(SECURITY_KEY, serialize($token));
            if (($_POST['api_token'] ?? '') !== '') {
                $session->set('api_token', $_POST['api_token']);
            }
            [$status, $location] = [302, '/dashboard'];
            break;
        case 'GET /dashboard':
            if (!$session->has(SECURITY_KEY)) {
                [$status, $location] = [302, '/'];
                break;
            }
            $body = "hello user 42\n";
            break;
        case 'POST /logout':
            // LogoutListener with invalidate_session: true (the default): clear every
            // attribute and migrate(true). The emptied session is not written back:
            // NativeSessionStorage::save drops empty bags, and the handler deletes a
            // session whose data is empty.
            $session->invalidate();
            [$status, $location] = [302, '/'];
            break;
        default:
            $status = 404;
            $body = "not found\n";
    }

    // SessionListener::onKernelResponse: the session is saved before the response
    // leaves; PHP's session module has already queued the cookie.
    $session->save();

    http_response_code($status);
    if ($location !== null) {
        header('Location: ' . $location);
    }
    header('Content-Type: text/plain');
    echo $body;
}
