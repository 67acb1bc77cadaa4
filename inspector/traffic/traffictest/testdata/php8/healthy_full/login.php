<?php
require __DIR__ . '/common.php';
start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
$_SESSION['login_at'] = time();
if (!empty($_POST['remember'])) {
    setcookie(REMEMBER, remember_token_for(42), ['expires' => time() + 30 * 86400, 'path' => '/',
        'secure' => true, 'httponly' => true, 'samesite' => 'Lax']);
}
session_write_close();
header('Location: /dashboard.php', true, 302);
