<?php
// Dashboard: reads the session and never modifies $_SESSION, so with
// session.lazy_write=1 PHP only refreshes the TTL (phpredis update_timestamp: EXPIRE).
// Without a user it sends the visitor back to the start: the login loop.
session_start();
if (empty($_SESSION['user_id'])) {
    header('Location: index.php');
    exit;
}
header('Content-Type: text/plain');
echo "hello user ", $_SESSION['user_id'], "\n";
