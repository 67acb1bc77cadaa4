<?php
// A slow page that writes the session early: it commits the visit count, releases
// the session, then works for a while. Its write lands while it is still running,
// before its own response, so it is in time whatever the login did earlier.
session_start();
if (!isset($_SESSION['user_id'])) {
    header('Location: /index.php', true, 302);
    exit;
}
$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
session_write_close();
sleep(3);
echo "<p>report for user {$_SESSION['user_id']}, visit {$_SESSION['visits']}</p>";
