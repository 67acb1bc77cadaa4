<?php
// Login form: starts (or resumes) the session with a CSRF token, like index.php, and
// shows a form that POSTs to login.php, plus links to the dashboard and help.php. With
// session.use_trans_sid=1 and no session cookie PHP rewrites the links and the form to
// carry the session id (the session-id-in-url case). Used by internal/golden, which
// drives it in Chromium; the action can be signin.php with ?to=signin.
session_start();
if (empty($_SESSION['csrf'])) {
    $_SESSION['csrf'] = bin2hex(random_bytes(8));
}
$action = ($_GET['to'] ?? '') === 'signin' ? 'signin.php' : 'login.php';
header('Content-Type: text/html; charset=utf-8');
?>
<!doctype html>
<title>Log in</title>
<form method="post" action="<?= $action ?>" data-testid="login-form">
  <input name="user" value="alice">
  <input type="hidden" name="regen" value="true">
  <button type="submit" data-testid="login">Log in</button>
</form>
<p><a href="dashboard.php" data-testid="dashboard-link">Dashboard</a> · <a href="help.php" data-testid="help-link">Help</a></p>
