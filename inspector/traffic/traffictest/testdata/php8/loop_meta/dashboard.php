<?php
// Without a session the dashboard serves the login form in its place (200).
// A visitor without a session cookie gets no session: none is started for them.
require __DIR__ . '/form.inc.php';
$user = null;
if (isset($_COOKIE[session_name()])) {
    session_start();
    $user = $_SESSION['user_id'] ?? null;
    session_write_close();
}
header('Content-Type: text/html; charset=utf-8');
if ($user === null) {
    echo '<!doctype html><title>Log in</title><p data-testid=login>please log in</p>' . loginForm();
    exit;
}
echo "<!doctype html><title>Dashboard</title><p data-testid=dashboard>dashboard of user $user</p>";
