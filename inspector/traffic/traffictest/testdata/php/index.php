<?php
// Anonymous visit: starts a session and stores a CSRF token in it, so the session is
// written (phpredis: SETEX). Later visits find the token and change nothing.
session_start();
if (empty($_SESSION['csrf'])) {
    $_SESSION['csrf'] = bin2hex(random_bytes(8));
}
header('Content-Type: text/plain');
echo "anonymous visit, csrf ", $_SESSION['csrf'], "\n";
