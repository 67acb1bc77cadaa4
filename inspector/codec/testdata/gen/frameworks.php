<?php
// Generates Laravel- and Symfony-shaped payloads with real serialize():
//   php frameworks.php OUTDIR
declare(strict_types=1);
$out = $argv[1];
@mkdir("$out/laravel", 0777, true);
@mkdir("$out/symfony", 0777, true);

// Laravel: the session handler serialize()s the attributes, the cache store
// (RedisStore::serialize) serialize()s that string again.
$attrs = [
    '_token' => 'Xq1nH2vB9kLmP3rS5tU7wY0zA4cE6gI8jK1lN3oQ',
    '_previous' => ['url' => 'https://app.test/dashboard'],
    '_flash' => ['old' => [], 'new' => []],
    'login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d' => 17,
    'password_hash_web' => '$2y$12$Qm9vYmFyYmF6cXV4cXV1eC5lLmZvb2JhcmJhenF1eHF1dXg',
    'url' => [],
];
file_put_contents("$out/laravel/double_serialized.bin", serialize(serialize($attrs)));
// 'serialization' => 'json' in config/session.php (Laravel 11+), still wrapped by the cache store.
file_put_contents("$out/laravel/json_inner.bin", serialize(json_encode($attrs, JSON_UNESCAPED_SLASHES)));

// 'encrypt' => true: Illuminate\Encryption\Encrypter::encrypt(serialize($attrs)),
// reproduced with the same cipher and envelope layout.
$key = random_bytes(32);
$iv = random_bytes(16);
$value = openssl_encrypt(serialize($attrs), 'aes-256-cbc', $key, 0, $iv);
$ivB64 = base64_encode($iv);
$mac = hash_hmac('sha256', $ivB64 . $value, $key);
$envelope = base64_encode(json_encode(['iv' => $ivB64, 'value' => $value, 'mac' => $mac, 'tag' => ''], JSON_UNESCAPED_SLASHES));
file_put_contents("$out/laravel/encrypted.bin", serialize($envelope));
file_put_contents("$out/laravel/encrypted_raw.bin", $envelope);

// Symfony: NativeSessionStorage keeps three bags in $_SESSION.
$token = 'O:74:"Symfony\Component\Security\Core\Authentication\Token\UsernamePasswordToken":1:{i:0;a:2:{i:0;s:4:"main";i:1;a:0:{}}}';
$sf = [
    '_sf2_attributes' => [
        '_csrf/https-authenticate' => 'kT3bq0mG1wX9vJ2cH8yN5pL4rD7sF6aZ',
        '_security.last_username' => 'ada@example.com',
        '_security_main' => $token,
        'cart_id' => 1234,
        'locale' => 'de',
    ],
    '_symfony_flashes' => ['success' => ['Your changes were saved.']],
    '_sf2_meta' => ['u' => 1763772300, 'c' => 1763771000, 'l' => 0],
];
$sfNoFlash = $sf;
$sfNoFlash['_symfony_flashes'] = [];
$sfNoFlash['_sf2_meta'] = ['u' => 1763772400, 'c' => 1763771000, 'l' => 3600];
file_put_contents("$out/symfony/attributes.json", json_encode([$sf, $sfNoFlash]));
