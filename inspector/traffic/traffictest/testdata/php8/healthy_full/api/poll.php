<?php
require __DIR__ . '/../common.php';
start();
$ok = isset($_SESSION['user_id']);
session_write_close(); // a read-only request releases the session at once
header('Content-Type: application/json');
if (!$ok) {
    http_response_code(401);
    echo '{"error":"login"}';
    return;
}
echo json_encode(['unread' => 3, 'at' => time()]);
