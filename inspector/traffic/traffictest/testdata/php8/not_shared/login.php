<?php
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
session_write_close();
header('Location: /dashboard.php', true, 302);
