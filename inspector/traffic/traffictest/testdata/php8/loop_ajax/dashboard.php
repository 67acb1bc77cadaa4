<?php
// A visitor without a session gets a 401 (and no session started for them).
$user = null;
if (isset($_COOKIE[session_name()])) {
    session_start();
    $user = $_SESSION['user_id'] ?? null;
    session_write_close();
}
header('Content-Type: text/html; charset=utf-8');
if ($user === null) {
    http_response_code(401);
    echo '<!doctype html><title>Login required</title><p data-testid=denied>login required</p><a href=/index.php>log in</a>';
    exit;
}
echo "<!doctype html><title>Dashboard</title><p data-testid=dashboard>dashboard of user $user</p>";
