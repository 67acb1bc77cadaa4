<?php
require __DIR__ . '/common.php';
start();
require_login();
$user = $_SESSION['user_id'];
session_write_close();
header('Content-Type: text/html; charset=utf-8');
?>
<p id=state>dashboard of user <?= $user ?></p>
<p>polls: <span id=polls>0</span></p>
<a id=slow href=/slow.php>report</a> <a id=critical href=/critical.php>close account</a>
<script>
// AJAX polling, as a dashboard refreshes its counters.
let n = 0;
setInterval(async () => {
  const r = await fetch('/api/poll.php', {credentials: 'same-origin'});
  if (r.ok) { n++; document.getElementById('polls').textContent = String(n); }
}, 1000);
</script>
