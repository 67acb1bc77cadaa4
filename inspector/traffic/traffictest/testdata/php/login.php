<?php
// Login: ?regen=true|false|none (query string or form field) chooses what happens to
// the session id: session_regenerate_id(true), session_regenerate_id(false), or
// nothing (the fixation-prone variant). The session is committed with
// session_write_close() BEFORE the redirect, so the next request reads the logged-in session.
$regen = $_REQUEST['regen'] ?? 'true';
if (!in_array($regen, ['true', 'false', 'none'], true)) {
    http_response_code(400);
    header('Content-Type: text/plain');
    echo "regen must be true, false or none\n";
    exit;
}
if (($_REQUEST['user'] ?? '') === '') {
    http_response_code(400);
    header('Content-Type: text/plain');
    echo "user is required\n";
    exit;
}

session_start();
if ($regen === 'true') {
    session_regenerate_id(true);
} elseif ($regen === 'false') {
    session_regenerate_id(false);
}
$_SESSION['user_id'] = 42;
session_write_close();

header('Location: dashboard.php');
exit;
