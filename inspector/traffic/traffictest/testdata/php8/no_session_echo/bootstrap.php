<?php
// Every page starts here. The build marker is echoed before session_start(): with
// output_buffering=0 that output commits the headers, and PHP 8 refuses to start the
// session, so no page ever sets the session cookie.
echo "<!-- shop build 1.4.2 -->\n";
session_start();

// redirect sends the browser to $to from the page itself: this app does not use
// Location headers.
function redirect(string $to): void
{
    $js = json_encode($to);
    echo "<p>Redirecting…</p><script>location.href = $js;</script>";
    exit;
}
