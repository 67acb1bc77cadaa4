<?php
// A logout that neither destroys the session nor clears the cookie it was given: the
// expiry has no Domain, while session.cookie_domain set the cookie with one.
session_start();
setcookie(session_name(), '', ['expires' => 1, 'path' => '/']);
header('Location: /index.php', true, 302);
