<?php
require __DIR__ . '/config.php';
$_SESSION = [];
$p = session_get_cookie_params();
setcookie(session_name(), '', ['expires' => 1, 'path' => $p['path'], 'domain' => $p['domain'], 'secure' => $p['secure'], 'httponly' => $p['httponly'], 'samesite' => $p['samesite']]);
session_destroy();
header('Location: /index.php', true, 302);
