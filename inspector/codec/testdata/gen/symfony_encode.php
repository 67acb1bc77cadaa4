<?php
// Encodes the Symfony datasets written by frameworks.php with one session handler:
//   php -d session.serialize_handler=H symfony_encode.php H OUTDIR
[$handler, $out] = [$argv[1], $argv[2]];
ini_set('session.save_path', sys_get_temp_dir());
ini_set('session.use_cookies', '0');
ini_set('session.cache_limiter', '');
session_start();
[$sf, $sfNoFlash] = json_decode(file_get_contents("$out/symfony/attributes.json"), true);
$_SESSION = $sf;
file_put_contents("$out/symfony/$handler.bin", session_encode());
if ($handler === 'php') {
    $_SESSION = $sfNoFlash;
    file_put_contents("$out/symfony/php_no_flash.bin", session_encode());
}
session_write_close();
