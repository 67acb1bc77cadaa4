<?php
// A login that gives the session a new id but keeps the old one
// (session_regenerate_id(false)), from an empty pre-login session.
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
session_regenerate_id(false);
$_SESSION['user_id'] = 42;
session_write_close();
header('Location: /dashboard.php', true, 302);
