<?php
// An identity provider on another site (idp.localhost): its form posts the login back
// to the shop, a cross-site POST navigation followed by the shop's redirect.
$shop = 'http://' . preg_replace('/^idp\./', 'shop.', $_SERVER['HTTP_HOST']);
echo "<form method=post action=\"$shop/login.php\"><input name=user value=ada><button>Continue to the shop</button></form>";
