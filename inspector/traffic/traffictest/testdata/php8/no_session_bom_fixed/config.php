<?php
// The same include saved as UTF-8 without a byte order mark.
session_start();
