<?php
// Shared by every page: a remember-me cookie brings a returning user back in a fresh
// session (and the session id is regenerated when it does, as at any login).
const REMEMBER = 'remember_me';

function remember_token_for(int $user): string
{
    // A real app stores a random token server-side; the twin derives it so it needs
    // no table. It is not a session id.
    return hash_hmac('sha256', (string) $user, 'healthy-twin-key');
}

function start(): void
{
    session_start();
    if (!isset($_SESSION['user_id']) && isset($_COOKIE[REMEMBER]) && hash_equals(remember_token_for(42), $_COOKIE[REMEMBER])) {
        session_regenerate_id(true);
        $_SESSION['user_id'] = 42;
    }
}

function require_login(): void
{
    if (!isset($_SESSION['user_id'])) {
        header('Location: /index.php', true, 302);
        exit;
    }
}
