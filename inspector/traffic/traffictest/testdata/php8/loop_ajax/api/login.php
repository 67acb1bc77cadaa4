<?php
// The script's login: JSON in, JSON out; the page navigates on its own.
session_start();
header('Content-Type: application/json');
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    echo '{"ok":false}';
    exit;
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
session_write_close();
echo '{"ok":true}';
