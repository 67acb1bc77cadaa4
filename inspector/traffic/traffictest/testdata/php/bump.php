<?php
// Counter: every request changes the session (n + 1), so with lazy_write phpredis still
// writes it each time (SETEX). The first request without a cookie starts the session.
session_start();
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
header('Content-Type: text/plain');
echo "n=", $_SESSION['n'], "\n";
