<?php
// The IdP accepts the password, remembers the user in its own session (on its own
// host) and sends the browser back with a code.
$return = (string)($_POST['return'] ?? '');
if ($_SERVER['REQUEST_METHOD'] !== 'POST' || !preg_match('#^http://[a-z0-9.:-]+/callback\.php$#', $return)) {
    http_response_code(400);
    exit;
}
session_start();
session_regenerate_id(true);
$_SESSION['idp_user'] = (string)($_POST['user'] ?? '');
session_write_close();
header('Location: ' . $return . '?code=' . bin2hex(random_bytes(8)), true, 302);
