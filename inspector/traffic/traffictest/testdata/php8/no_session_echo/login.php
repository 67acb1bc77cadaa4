<?php
require __DIR__ . '/bootstrap.php';
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    redirect('/index.php');
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
session_write_close();
redirect('/dashboard.php');
