<?php
// The fixed twin: the session is written and closed before the redirect is
// flushed; the slow step after the headers no longer holds anything the next
// request needs.
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
session_write_close();
header('Location: /dashboard.php', true, 302);
flush();
usleep(1500000); // the same slow step, after the session is committed
