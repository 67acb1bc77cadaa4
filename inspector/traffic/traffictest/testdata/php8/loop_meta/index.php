<?php
require __DIR__ . '/form.inc.php';
header('Content-Type: text/html; charset=utf-8');
echo '<!doctype html><title>Log in</title><p data-testid=login>please log in</p>' . loginForm();
