<?php
// The login form. It starts the session (so the browser gets an id) and writes
// nothing into it: the pre-login session is empty.
session_start();
header('Content-Type: text/html; charset=utf-8');
$user = $_SESSION['user_id'] ?? null;
echo $user === null ? "<p>not logged in</p><form method=post action=/login.php><input name=user value=ada><button>Log in</button></form>" : "<p>hello user $user</p>";
