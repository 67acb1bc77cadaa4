"""Writes the pickle seeds under testdata/pickle.

Usage: /usr/bin/python3 pickles.py TESTDATA_DIR (Debian's python3 with
python3-django, python3-django-redis, python3-flask-session,
python3-flask-login and redis-server installed).

django_redis_*.bin and flask_session_*.bin are what django-redis and
Flask-Session really store: each runs against a throwaway redis-server and the
stored value is read back. django_p*.bin are the same kind of session dict
pickled with each protocol, and types.bin holds every kind of value a session
may hold. sessionscope reads these as data only; nothing here is unpickled by
it.
"""
import collections
import datetime
import decimal
import os
import pickle
import socket
import subprocess
import sys
import time
import types
import uuid

out = os.path.join(sys.argv[1], "pickle")
os.makedirs(out, exist_ok=True)


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


AUTH_HASH = "3f1c0ffee0ddba11f00d5ca1ab1e5eed5b3f1c0ffee0ddba11deadbeef"
session = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": AUTH_HASH,
    "cart": {"sku-1": 2},
    "last_seen": datetime.datetime(2026, 11, 22, 1, 0, 0),
}
for proto in range(0, 6):
    write(f"django_p{proto}.bin", pickle.dumps(session, protocol=proto))


class Cart:
    def __init__(self):
        self.items = ["sku-1", "sku-2"]
        self.total = decimal.Decimal("12.50")


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = 1
        self.b = "two"


# Pickle names a class by module and qualified name and checks that they
# import; a stand-in module makes these look like an application's models.
models = types.ModuleType("shop.models")
models.Cart, models.Slotted = Cart, Slotted
Cart.__module__ = Slotted.__module__ = "shop.models"
sys.modules["shop"] = types.ModuleType("shop")
sys.modules["shop.models"] = models
shared = ["shared"]
write("types.bin", pickle.dumps({
    "none": None, "t": True, "f": False,
    "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31, 2**63 - 1, -(2**63), 2**64, -(2**100)],
    "floats": [0.5, -0.0, 1e100, float("inf")],
    "str": "café ☕ \U0001F600",
    "bytes": b"\x00\xff",
    "bytearray": bytearray(b"ab"),
    "tuple": (1, "two", (3,)),
    "set": {7},
    "frozenset": frozenset({"x"}),
    "nested": {"a": [{"b": {"c": [1, 2, {"d": None}]}}]},
    "first": shared, "again": shared,
    "when": datetime.datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc),
    "day": datetime.date(2026, 1, 2),
    "delta": datetime.timedelta(days=1, seconds=5),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "ordered": collections.OrderedDict([("k", "v")]),
    "counts": collections.defaultdict(int, {"hits": 3}),
    "cart": Cart(),
    "slotted": Slotted(),
    1: "int key",
    b"bk": "bytes key",
    (1, 2): "tuple key",
}, protocol=4))
for proto in (0, 2):
    write(f"types_p{proto}.bin", pickle.dumps({"tuple": (1, "two"), "set": {7}, "when": datetime.datetime(2026, 1, 2),
                                                "s": "it's \"q\" \\ \n", "u": "café ☕", "big": 2**70, "f": 0.25,
                                                "cart": Cart(), "b": b"\x00\xff"}, protocol=proto))
# A session whose top level is not a dict.
write("list_top.bin", pickle.dumps(["a", 1, None], protocol=4))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


port = free_port()
server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                          stdout=subprocess.DEVNULL)
try:
    import redis
    r = redis.Redis(port=port)
    for _ in range(100):
        try:
            r.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)

    # Django 3.2's cache session backend with django-redis: the cache stores
    # the session dict, which django-redis pickles.
    import django
    from django.conf import settings
    settings.configure(
        SECRET_KEY="not-secret",
        INSTALLED_APPS=["django.contrib.sessions"],
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache",
                            "LOCATION": f"redis://127.0.0.1:{port}/0"}},
    )
    django.setup()
    from django.contrib.sessions.backends.cache import SessionStore
    s = SessionStore()
    # What django.contrib.auth.login() puts in the session.
    s["_auth_user_id"] = "42"
    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = AUTH_HASH
    s["cart"] = {"items": [("sku-1", 2)], "tags": {"gift"}}
    s["last_seen"] = datetime.datetime(2026, 11, 22, 1, 0, 0)
    s.save()
    write("django_redis_login.bin", r.get(":1:django.contrib.sessions.cache" + s.session_key))
    anon = SessionStore()
    anon["visits"] = 1
    anon.save()
    write("django_redis_anonymous.bin", r.get(":1:django.contrib.sessions.cache" + anon.session_key))

    # Flask-Session's Redis interface with Flask-Login.
    import flask
    import flask_login
    import flask_session
    app = flask.Flask("shop")
    app.config.update(SECRET_KEY="not-secret", SESSION_TYPE="redis", SESSION_REDIS=r)
    flask_session.Session(app)
    login = flask_login.LoginManager(app)

    class User(flask_login.UserMixin):
        id = "42"

    login.user_loader(lambda uid: User() if uid == "42" else None)

    @app.route("/login")
    def do_login():
        flask_login.login_user(User(), remember=False)
        flask.session["csrf_token"] = "079dc00f41384c3fa5d9b3c2d1e0f9a8b7c6d5e4"
        flask.session["when"] = datetime.datetime(2026, 11, 22, 1, 0, 0)
        flask.session["prefs"] = {"langs": ["en", "fr"], "seen": (1, 2)}
        return "ok"

    with app.test_client() as c:
        c.get("/login")
    keys = r.keys("session:*")
    assert len(keys) == 1, keys
    write("flask_session_login.bin", r.get(keys[0]))
finally:
    server.terminate()
    server.wait()
