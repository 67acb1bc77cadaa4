<?php
require __DIR__ . '/bootstrap.php';
if (!isset($_SESSION['user_id'])) {
    redirect('/index.php');
}
session_write_close();
echo "<p>dashboard of user {$_SESSION['user_id']}</p>";
