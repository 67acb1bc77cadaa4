<?php
// The login form. config.php starts the session (see README.md).
require __DIR__ . '/config.php';
header('Content-Type: text/html; charset=utf-8');
$user = $_SESSION['user_id'] ?? null;
echo $user === null ? "<p>not logged in</p><form method=post action=/login.php><input name=user value=ada><button>Log in</button></form>" : "<p>hello user $user</p>";
