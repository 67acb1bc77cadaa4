<?php
// The shop's side of the round trip: the code is taken as proof (a real client
// would redeem it with the IdP), the session starts and the browser goes on.
session_start();
if (!isset($_GET['code'])) {
    http_response_code(400);
    exit;
}
session_regenerate_id(true);
$_SESSION['user_id'] = 42;
session_write_close();
header('Location: /dashboard.php', true, 302);
