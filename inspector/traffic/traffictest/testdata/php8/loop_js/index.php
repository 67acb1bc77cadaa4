<?php
// The login page: a form with a password input, posted to login.php.
session_start();
header('Content-Type: text/html; charset=utf-8');
$user = $_SESSION['user_id'] ?? null;
session_write_close();
if ($user !== null) {
    echo "<p>hello user $user</p>";
    exit;
}
echo '<!doctype html><title>Log in</title><p data-testid=login>not logged in</p>'
    . '<form method=post action=/login.php><input name=user value=ada><input type=password name=pw value=secret><button>Log in</button></form>';
