<?php
require __DIR__ . '/bootstrap.php';
$user = $_SESSION['user_id'] ?? null;
echo $user === null ? "<p>not logged in</p><form method=post action=/login.php><input name=user value=ada><button>Log in</button></form>" : "<p>hello user $user</p>";
