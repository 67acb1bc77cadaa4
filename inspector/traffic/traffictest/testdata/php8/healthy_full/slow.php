<?php
// A slow report: the session is read and released first, then the page takes its time.
require __DIR__ . '/common.php';
start();
require_login();
$_SESSION['last_report'] = time();
session_write_close();
usleep(1500000);
echo '<p id=state>report ready</p><a href=/dashboard.php>back</a>';
