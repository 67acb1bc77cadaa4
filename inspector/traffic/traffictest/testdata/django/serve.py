"""Runs the Django test app: migrates its SQLite database, creates the user alice and
serves on 127.0.0.1:$PORT with the standard library's WSGI server.

    PORT=8000 REDIS_URL=redis://127.0.0.1:6379/0 SESSION_BACKEND=cache \
        DJANGO_DB_DIR=$(mktemp -d) /usr/bin/python3 serve.py
"""
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from views import PASSWORD  # noqa: E402


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        sys.stderr.write("%s\n" % (format % args))


def main():
    port = int(os.environ["PORT"])
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    User = get_user_model()
    if not User.objects.filter(username="alice").exists():
        User.objects.create_user("alice", "alice@example.com", PASSWORD)
    httpd = make_server("127.0.0.1", port, get_wsgi_application(),
                        server_class=Server, handler_class=QuietHandler)
    print("listening", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
