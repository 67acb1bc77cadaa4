<?php
// The identity provider's login form (another site: idp.localhost). It keeps no
// session of its own: every visit asks for the password.
$return = (string)($_GET['return'] ?? '');
header('Content-Type: text/html; charset=utf-8');
echo '<!doctype html><title>Sign in</title><p data-testid=idp>identity provider</p>'
    . '<form method=post action=/idp_login.php><input type=hidden name=return value="' . htmlspecialchars($return) . '">'
    . '<input name=user value=ada><input type=password name=pw value=secret><button>Sign in</button></form>';
