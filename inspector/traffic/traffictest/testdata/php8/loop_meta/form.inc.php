<?php
// splitHosts: the login lives on login.<shop host>, the dashboard on app.<shop host>
// (the broken layout with a host-only cookie). With the php.ini setting
// loop_meta.split_hosts=0 everything stays on the host the browser asked for.
function splitHosts(): bool
{
    return get_cfg_var('loop_meta.split_hosts') !== '0';
}

// hostFor is the host of one side (login or app) of the shop.
function hostFor(string $side): string
{
    $host = $_SERVER['HTTP_HOST'];
    return splitHosts() ? preg_replace('/^[a-z]+\./', $side . '.', $host) : $host;
}

// loginForm is the login form, posted to the login host whatever host serves it.
function loginForm(): string
{
    $login = 'http://' . hostFor('login') . '/login.php';
    return '<form method=post action="' . htmlspecialchars($login) . '"><input name=user value=ada>'
        . '<input type=password name=pw value=secret><button>Log in</button></form>';
}
