<?php
// The login answers 200 and leaves by script: no redirect for the proxy to see.
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
session_write_close();
header('Content-Type: text/html; charset=utf-8');
echo '<!doctype html><title>Signing in</title><p>signing in…</p><script>location.replace("/dashboard.php")</script>';
