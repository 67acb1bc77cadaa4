<?php
// Login that keeps the old session: sets user_id, then session_regenerate_id(false).
// phpredis first rewrites the old key with the current data (SETEX old, now with
// user_id), then writes the new key at the end of the request (SETEX new). Called right
// after the session was born, it is the "old session kept" case with both keys written
// within one correlation window.
session_start();
$_SESSION['user_id'] = 42;
session_regenerate_id(false);
session_write_close();
header('Content-Type: text/plain');
echo "logged in, old session kept\n";
