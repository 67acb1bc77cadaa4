<?php
// Saved by an editor that adds a UTF-8 byte order mark: the three bytes before
// <?php are output, so every page has sent its headers before session_start().
session_start();
