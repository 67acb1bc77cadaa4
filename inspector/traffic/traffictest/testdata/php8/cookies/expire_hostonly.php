<?php
// Prepended to every page (auto_prepend_file) once session.cookie_domain is set. A
// session from before the change came in the host-only cookie: move it to a fresh id
// in the Domain cookie (destroying the old one), and expire the host-only cookie with
// exactly its attributes (no Domain, Path=/), so that browsers hold one cookie. The
// expiry goes out when the headers do: session_start() and session_regenerate_id()
// drop every Set-Cookie line of the session's name set before them.
if (basename($_SERVER['SCRIPT_NAME']) === 'old.php') {
    return; // the app as it was before the change
}
session_start();
if (isset($_COOKIE[session_name()]) && !isset($_SESSION['domain_cookie'])) {
    session_regenerate_id(true);
    header_register_callback(function () {
        setcookie(session_name(), '', ['expires' => 1, 'path' => '/', 'secure' => true, 'httponly' => true, 'samesite' => 'Lax']);
    });
}
$_SESSION['domain_cookie'] = true;
session_write_close();
