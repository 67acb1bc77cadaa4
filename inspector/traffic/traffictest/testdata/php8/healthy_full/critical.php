<?php
// A critical action asks for the password again unless it was given in the last 5 min.
require __DIR__ . '/common.php';
start();
require_login();
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    session_regenerate_id(true); // a privilege change: a new id, as at login
    $_SESSION['reauth_at'] = time();
    session_write_close();
    header('Location: /critical.php', true, 302);
    exit;
}
$fresh = isset($_SESSION['reauth_at']) && time() - $_SESSION['reauth_at'] < 300;
session_write_close();
if (!$fresh) {
    echo '<p id=state>confirm your password</p><form method=post action=/critical.php>'
        . '<input type=password name=password value=pw><button id=confirm>Confirm</button></form>';
    return;
}
echo '<p id=state>account closed (not really)</p><a href=/logout.php id=logout>log out</a>';
