<?php
require __DIR__ . '/common.php';
start();
header('Content-Type: text/html; charset=utf-8');
if (isset($_SESSION['user_id'])) {
    session_write_close();
    echo "<p id=state>hello user {$_SESSION['user_id']}</p><a href=/dashboard.php>dashboard</a>";
    return;
}
session_write_close();
echo '<p id=state>not logged in</p><form method=post action=/login.php>'
    . '<input name=user value=ada><input type=password name=password value=pw>'
    . '<label><input type=checkbox name=remember value=1 checked> remember me</label>'
    . '<button id=login>Log in</button></form>';
