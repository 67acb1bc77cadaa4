<?php
session_start();
if (!isset($_SESSION['user_id'])) {
    header('Location: /index.php', true, 302);
    exit;
}
session_write_close();
echo "<p>dashboard of user {$_SESSION['user_id']}</p>";
