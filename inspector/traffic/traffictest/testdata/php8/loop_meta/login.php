<?php
// The login answers 200 with a meta refresh to the app host: no redirect for the
// proxy to see.
require __DIR__ . '/form.inc.php';
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
session_write_close();
$app = 'http://' . hostFor('app') . '/dashboard.php';
header('Content-Type: text/html; charset=utf-8');
echo '<!doctype html><title>Signing in</title><meta http-equiv="refresh" content="0;url=' . htmlspecialchars($app) . '"><p>signing in…</p>';
