<?php
$user = null;
if (isset($_COOKIE[session_name()])) {
    session_start();
    $user = $_SESSION['user_id'] ?? null;
    session_write_close();
}
if ($user === null) {
    $host = $_SERVER['HTTP_HOST'];
    $idp = 'http://' . preg_replace('/^[a-z]+\./', 'idp.', $host) . '/authorize.php';
    $back = 'http://' . $host . '/callback.php';
    header('Location: ' . $idp . '?return=' . rawurlencode($back), true, 302);
    exit;
}
header('Content-Type: text/html; charset=utf-8');
echo "<!doctype html><title>Dashboard</title><p data-testid=dashboard>dashboard of user $user</p>";
