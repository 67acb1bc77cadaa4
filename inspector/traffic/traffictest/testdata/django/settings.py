"""Settings of the Django test app, taken from the environment.

REDIS_URL        redis://host:port/0 of the session store
SESSION_BACKEND  cache (django.contrib.sessions.backends.cache over django-redis,
                 keys :1:django.contrib.sessions.cache<key>, pickled dicts) or
                 redis_sessions (django-redis-sessions, keys session:<key>, the
                 signed strings of SessionBase.encode)
DJANGO_DB_DIR    directory of the SQLite database that holds the user alice
"""
import os
from urllib.parse import urlsplit

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SESSION_BACKEND = os.environ.get("SESSION_BACKEND", "cache")
DB_DIR = os.environ["DJANGO_DB_DIR"]

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = "sessionscope-test-app-not-a-secret"
ROOT_URLCONF = "views"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(DB_DIR, "db.sqlite3"),
    }
}
# The tables are created straight from the models (migrate --run-syncdb) instead of
# by replaying the migrations of auth and contenttypes, which takes seconds: the
# app must start within the test's timeout on a loaded machine.
MIGRATION_MODULES = {app: None for app in ("auth", "contenttypes", "sessions")}

# The app must start within the test's timeout on a loaded machine: PBKDF2's
# hundreds of thousands of rounds, run for creating alice and again for each login,
# would take most of it. The hasher has no bearing on what the session holds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if SESSION_BACKEND == "cache":
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
elif SESSION_BACKEND == "redis_sessions":
    _url = urlsplit(REDIS_URL)
    SESSION_ENGINE = "redis_sessions.session"
    # As django-redis-sessions' README configures it: keys are "session:<key>".
    SESSION_REDIS = {
        "host": _url.hostname,
        "port": _url.port or 6379,
        "db": int((_url.path or "/0").lstrip("/") or 0),
        "prefix": "session",
        "socket_timeout": 5,
    }
else:
    raise SystemExit("SESSION_BACKEND must be cache or redis_sessions, not %r" % SESSION_BACKEND)
