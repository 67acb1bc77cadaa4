<?php
// The login form. The session starts here, so the browser holds an id before it logs
// in: the id a login must replace.
session_start();
header('Content-Type: text/html; charset=utf-8');
$user = $_SESSION['user_id'] ?? null;
echo $user === null ? "<p>not logged in</p><form method=post action=/login.php><input name=user value=ada><button>Log in</button></form>" : "<p>hello user $user</p>";
