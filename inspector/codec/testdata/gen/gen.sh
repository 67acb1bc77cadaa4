#!/bin/sh
# Regenerates the seed payloads under testdata/ from real serializers:
# php-cli (with igbinary), Debian's python3 (pickles.py, which also runs
# Django with django-redis and Flask-Session with Flask-Login against a
# throwaway redis-server: python3-django, python3-django-redis,
# python3-flask-session, python3-flask-login, python3-redis), java, Go and
# Ruby (marshal.rb, which also runs redis-rack against a throwaway
# redis-server); handmade.py writes the few
# no installed tool produces (PHP 5 markers, and the older hand-built
# ruby_marshal/rails.bin). express/ and json/
# hold hand-written JSON. The tests only read the committed files, so none of
# these tools are needed to run them. CSRF tokens and Laravel's encryption use
# fresh random bytes on every run.
# Run it with: sh inspector/codec/testdata/gen/gen.sh (it is not executable on purpose:
# the repository holds no executables).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
td=$(dirname "$here")
root=$(cd "$td/../../.." && pwd)
for h in php php_binary php_serialize igbinary; do
	mkdir -p "$td/$h"
	php -d session.serialize_handler=$h "$here/sessions.php" $h "$td/$h"
done
php "$here/frameworks.php" "$td"
for h in php php_binary php_serialize igbinary; do
	php -d session.serialize_handler=$h "$here/symfony_encode.php" $h "$td"
done
rm "$td/symfony/attributes.json"
/usr/bin/python3 "$here/pickles.py" "$td"
python3 "$here/handmade.py" "$td"
ruby "$here/marshal.rb" "$td"
(cd "$here" && java SpringSeeds.java "$td")
(cd "$root" && go run ./inspector/codec/testdata/gen/gengo.go "$td")
# gorilla/sessions with redistore's GobSerializer, a module of its own.
(cd "$td/gobgen" && go run . ../gob)
# The Java corpus (testdata/java) is written by its own test:
#   SESSIONSCOPE_REGEN_JAVA=1 go test ./inspector/codec -run TestJavaSerialRegenerate
