<?php
// An anonymous page that keeps display preferences under "user": nobody logs in here.
session_start();
$_SESSION['user'] = ['theme' => $_GET['theme'] ?? 'dark', 'lang' => 'en'];
session_write_close();
echo "<p>preferences saved</p>";
