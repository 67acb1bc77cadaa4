<?php
// A page on a sibling subdomain (evil.shop.localhost) that plants a session cookie
// for the whole parent domain: cookie tossing. The id is not one the app issued.
header('Set-Cookie: PHPSESSID=' . str_repeat('e', 26) . '; Domain=shop.localhost; Path=/; Secure; HttpOnly; SameSite=Lax', false);
echo "<p>nothing to see</p>";
