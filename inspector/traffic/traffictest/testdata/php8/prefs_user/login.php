<?php
// The login of the same app keeps who logged in under "user" too, as a map with an id;
// it keeps the session id, so the login is a fixation finding that shows it was seen.
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
$_SESSION['user'] = ['id' => 42, 'name' => 'ada', 'theme' => $_SESSION['user']['theme'] ?? 'dark'];
session_write_close();
header('Location: /dashboard.php', true, 302);
