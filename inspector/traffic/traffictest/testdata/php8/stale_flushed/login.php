<?php
// Broken on purpose: the redirect is flushed before the session is written. With
// output_buffering=0, flush() sends the 302 at once while the request keeps
// running; the browser follows it and dashboard.php reads the session before the
// slow write below lands.
session_start();
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    header('Location: /index.php', true, 302);
    exit;
}
session_regenerate_id(true);
header('Location: /dashboard.php', true, 302);
flush();
usleep(1500000); // a slow step (an audit log, a remote call) before the write
$_SESSION['user_id'] = 42;
session_write_close();
