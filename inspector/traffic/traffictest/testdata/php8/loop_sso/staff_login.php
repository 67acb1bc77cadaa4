<?php
// A second way in, for staff: a login on the shop's own host that sends them on to
// the admin host. The session cookie is host-only (no session.cookie_domain), so
// admin.<shop host> never gets it: a loop of its own, with its own cause.
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    session_write_close();
    header('Content-Type: text/html; charset=utf-8');
    echo '<!doctype html><title>Staff log in</title><p data-testid=staff>staff</p>'
        . '<form method=post action=/staff_login.php><input name=user value=grace><input type=password name=pw value=secret><button>Log in</button></form>';
    exit;
}
session_regenerate_id(true);
$_SESSION['staff_id'] = 7; // a staff session, not a shop customer's
session_write_close();
header('Location: http://admin.' . $_SERVER['HTTP_HOST'] . '/dashboard.php', true, 302);
