<?php
// The app as it was before session.cookie_domain was set: its session cookie is
// host-only. Browsers of users who visited then still hold that cookie.
ini_set('session.cookie_domain', '');
session_start();
$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
echo "<p>welcome back ({$_SESSION['visits']} visits)</p>";
