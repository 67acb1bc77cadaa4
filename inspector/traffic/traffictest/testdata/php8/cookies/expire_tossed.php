<?php
// Prepended to every page of the app (auto_prepend_file): expires a session cookie
// that a sibling subdomain planted for the whole parent domain, with exactly its
// attributes (Domain=shop.localhost, Path=/), so that only the app's host-only cookie
// is left. The expiry goes out when the headers do: session_start() and
// session_regenerate_id() drop every Set-Cookie line of the session's name set
// before them.
if (basename($_SERVER['SCRIPT_NAME']) === 'evil.php') {
    return; // the sibling subdomain, not the app
}
header_register_callback(function () {
    setcookie(session_name(), '', ['expires' => 1, 'path' => '/', 'domain' => 'shop.localhost', 'secure' => true, 'httponly' => true, 'samesite' => 'Lax']);
});
