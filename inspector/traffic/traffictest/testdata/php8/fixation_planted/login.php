<?php
// The broken login: it writes the user into the session it was given and keeps the
// id, so whoever knew the id before the login shares the logged-in session.
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
$_SESSION['user_id'] = 42;
session_write_close();
header('Location: /dashboard.php', true, 302);
