<?php
// The healthy twin: a login that regenerates the id, writes the session before it
// redirects, and a logout that destroys the session and expires its cookie.
session_start();
header('Content-Type: text/html; charset=utf-8');
$user = $_SESSION['user_id'] ?? null;
echo $user === null ? "<p>not logged in</p><form method=post action=/login.php><input name=user value=ada><button>Log in</button></form>" : "<p>hello user $user</p>";
