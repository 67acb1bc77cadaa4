<?php
// Logout: empties and destroys the session (phpredis: DEL) and expires the cookie.
session_start();
$_SESSION = [];
session_destroy();
setcookie(session_name(), '', 1, '/');
header('Location: index.php');
exit;
