<?php
// Sign-in for apps split across hosts: like login.php (regenerate, set user_id,
// session_write_close() before the redirect), then a redirect to the URL in the
// php.ini setting sessionscope.after_login (php -d sessionscope.after_login=URL), the
// dashboard on another host, as when login.example.com hands over to app.example.com.
// With sessionscope.roles_cookie=1 it also keeps the user's roles in a cookie
// (base64 JSON) instead of the session: the sensitive-data-in-cookie case.
if (($_REQUEST['user'] ?? '') === '') {
    http_response_code(400);
    header('Content-Type: text/plain');
    echo "user is required\n";
    exit;
}
session_start();
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
$profile = ['user' => $_REQUEST['user'], 'email' => $_REQUEST['user'] . '@example.com', 'roles' => ['admin', 'billing'], 'is_admin' => true];
if (get_cfg_var('sessionscope.roles_cookie') === '1') {
    setcookie('profile', base64_encode(json_encode($profile)), ['path' => '/', 'httponly' => true, 'samesite' => 'Lax', 'secure' => (bool) ini_get('session.cookie_secure')]);
} else {
    $_SESSION['profile'] = $profile;
}
session_write_close();

$to = get_cfg_var('sessionscope.after_login');
header('Location: ' . ($to ? $to : 'dashboard.php'));
exit;
