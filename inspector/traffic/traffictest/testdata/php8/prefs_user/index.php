<?php
session_start();
header('Content-Type: text/html; charset=utf-8');
$user = $_SESSION['user']['id'] ?? null;
echo $user === null ? "<p>not logged in</p><form method=post action=/login.php><input name=user value=ada><button>Log in</button></form>" : "<p>hello user $user</p>";
