<?php
// Help page: a link back to the login form (same site) and one to a partner site
// (partner.localhost on the same port), so a session id in this page's URL shows up in
// the Referer of the requests that leave it -- or, cross-site, is cut by the browser's
// referrer policy. Used by internal/golden.
session_start();
$port = (int) parse_url('http://' . ($_SERVER['HTTP_HOST'] ?? 'localhost'), PHP_URL_PORT);
header('Content-Type: text/html; charset=utf-8');
?>
<!doctype html>
<title>Help</title>
<p><a href="form.php" data-testid="login-link">Log in</a></p>
<p><a href="http://partner.localhost:<?= $port ?>/index.php" data-testid="partner-link">Our partner</a></p>
