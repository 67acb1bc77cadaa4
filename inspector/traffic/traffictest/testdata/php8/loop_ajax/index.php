<?php
header('Content-Type: text/html; charset=utf-8');
?><!doctype html><title>Log in</title><p data-testid=login>please log in</p>
<form id=login><input name=user value=ada><input type=password name=pw value=secret><button>Log in</button></form>
<script>
document.getElementById('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const res = await fetch('/api/login.php', {method: 'POST', body: new FormData(ev.target), credentials: 'same-origin'});
    const body = await res.json();
    if (body.ok) {
        location.href = '/dashboard.php';
    }
});
</script>
