<?php
// Generates the PHP seed payloads under testdata/ with real php-cli.
// Run by gen.sh once per session.serialize_handler:
//   php -d session.serialize_handler=H sessions.php H OUTDIR
// Each dataset is put in $_SESSION and written with session_encode(), so the
// bytes are exactly what PHP's session module stores.
declare(strict_types=1);

class User {
    public int $id = 42;
    protected string $email = "ada@example.com";
    private string $passwordHash = '$2y$10$abcdefghijklmnopqrstuv';
    public array $roles = ['ROLE_USER', 'ROLE_ADMIN'];
}
class Cart implements Serializable {
    public array $items = ['sku-1' => 2, 'sku-2' => 1];
    public function serialize(): string { return json_encode($this->items); }
    public function unserialize(string $data): void { $this->items = json_decode($data, true); }
}
class Prefs {
    public function __construct(public string $theme = 'dark', public string $lang = 'fr') {}
    public function __serialize(): array { return ['t' => $this->theme, 'l' => $this->lang]; }
    public function __unserialize(array $d): void { $this->theme = $d['t']; $this->lang = $d['l']; }
}
enum Status: string { case Active = 'active'; case Locked = 'locked'; }

[$handler, $out] = [$argv[1], $argv[2]];
ini_set('session.save_path', sys_get_temp_dir());
ini_set('session.use_cookies', '0');
ini_set('session.cache_limiter', '');
session_start();

$datasets = [];

$datasets['login'] = [
    'user_id' => 42,
    'username' => 'zoë',
    'logged_in' => true,
    'csrf_token' => 'b3f1c0ffee0ddba11f00d5ca1ab1e5eed5b3f1c0ffee0ddba11',
    'last_login' => 1763772000,
    'balance' => -12.5,
    'nothing' => null,
    'roles' => ['editor', 'viewer'],
];

$shared = new User();
$list = [1, 2, 3];
$datasets['objects'] = [
    'user' => $shared,
    'same_user' => $shared,          // r: back-reference to the same object
    'list' => &$list,
    'list_alias' => &$list,          // R: PHP reference
    'cart' => @new Cart(),           // C: custom serialization (Serializable)
    'prefs' => new Prefs(),          // O: via __serialize
    'status' => Status::Locked,      // E: enum case
    'floats' => [INF, -INF, NAN, 0.1, -0.0, 1.0e100, 3.0],
    'ints' => [PHP_INT_MAX, PHP_INT_MIN, -1, 0, 255, 65536],
    'binary' => "nul\0byte\xff\xfe",
    'empty' => [],
    'nested' => ['a' => ['b' => ['c' => ['d' => ['e' => 'deep']]]]],
    'sparse' => [3 => 'three', -7 => 'minus seven', '010' => 'string key'],
    'utf8' => '日本語 ✓ émoji 🎉',
];

$datasets['flash'] = [
    '_flash' => ['old' => [], 'new' => ['status']],
    'status' => 'Profile updated!',
    'url' => ['intended' => 'https://app.test/dashboard?tab=1&x=<y>'],
];

// A realistic ~2 KB session for the benchmark: a logged-in user with a cart,
// preferences, recent pages and CSRF tokens.
$recent = [];
for ($i = 0; $i < 12; $i++) {
    $recent[] = ['path' => "/products/item-$i", 'at' => 1763772000 + $i * 37, 'title' => "Product number $i – café edition"];
}
$datasets['bench2k'] = [
    'user_id' => 90210,
    'username' => 'jane.doe@example.com',
    'display_name' => 'Jane Doe',
    'logged_in' => true,
    'auth_time' => 1763771000,
    'locale' => 'en_GB',
    'csrf_tokens' => ['login' => bin2hex(random_bytes(20)), 'checkout' => bin2hex(random_bytes(20)), 'profile' => bin2hex(random_bytes(20))],
    'cart' => ['items' => [['sku' => 'A-100', 'qty' => 2, 'price' => 19.99], ['sku' => 'B-220', 'qty' => 1, 'price' => 5.5], ['sku' => 'C-310', 'qty' => 3, 'price' => 120.0]], 'coupon' => null, 'currency' => 'EUR'],
    'prefs' => ['theme' => 'dark', 'newsletter' => false, 'items_per_page' => 50],
    'recent' => $recent,
    'flash' => [],
];

foreach ($datasets as $name => $data) {
    $_SESSION = $data;
    $enc = session_encode();
    if ($enc === false) { fwrite(STDERR, "encode $name failed\n"); exit(1); }
    if ($handler === 'php' || $name !== 'bench2k') {
        file_put_contents("$out/$name.bin", $enc);
    }
}
session_write_close();
