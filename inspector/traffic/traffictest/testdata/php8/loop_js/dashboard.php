<?php
session_start();
if (!isset($_SESSION['user_id'])) {
    header('Location: /index.php', true, 302);
    exit;
}
session_write_close();
header('Content-Type: text/html; charset=utf-8');
echo "<!doctype html><title>Dashboard</title><p data-testid=dashboard>dashboard of user {$_SESSION['user_id']}</p>";
