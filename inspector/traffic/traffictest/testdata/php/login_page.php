<?php
// Login page: starts (or resumes) the session with a CSRF token and the page to return
// to after login, and shows a form that POSTs to login.php?regen=true. return_to is a
// field that login carries over unchanged and that does not rotate, so the store alone
// can tell which anonymous session a new logged-in one replaced (a CSRF token alone
// cannot: frameworks rotate it). Used by the phpredis flow tests, with curl-speed
// clients and in Chromium.
session_start();
if (empty($_SESSION['csrf'])) {
    $_SESSION['csrf'] = bin2hex(random_bytes(8));
}
if (empty($_SESSION['return_to'])) {
    $_SESSION['return_to'] = 'dashboard.php';
}
header('Content-Type: text/html; charset=utf-8');
?>
<!doctype html>
<title>Log in</title>
<form method="post" action="login.php?regen=true" data-testid="login-form">
  <input name="user" value="alice">
  <button type="submit" data-testid="login">Log in</button>
</form>
