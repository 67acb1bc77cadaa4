"""A Flask app whose sessions live in Redis through Flask-Session, with Flask-Login
for the user: Debian's python3-flask, python3-flask-session, python3-flask-login.

    PORT=8000 REDIS_URL=redis://127.0.0.1:6379/0 /usr/bin/python3 app.py

Routes:
    GET  /health.txt  readiness probe; reads no session, yet Flask-Session 0.3 stores
                      one for it (see the end of this file)
    GET  /?cart=N     anonymous page: keeps cart when given
    POST /login       login_user(alice, id 42) and the form's api_token
    GET  /dashboard   redirects to / without a user
    POST /logout      logout_user, then the session emptied (deleted from the store)
"""
import os

import redis
from flask import Flask, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_session import Session

app = Flask(__name__)
app.config.update(
    SECRET_KEY="sessionscope-test-app-not-a-secret",
    # Flask-Session's defaults otherwise: key prefix "session:", pickled dicts, the
    # cookie "session" carrying the bare id (SESSION_USE_SIGNER is off).
    SESSION_TYPE="redis",
    SESSION_REDIS=redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")),
)
Session(app)
login_manager = LoginManager(app)


class User(UserMixin):
    def __init__(self, user_id, name):
        self.id = user_id
        self.name = name


USERS = {"alice": User(42, "alice")}


@login_manager.user_loader
def load_user(user_id):
    for user in USERS.values():
        if str(user.id) == user_id:
            return user
    return None


def text(body, status=200):
    return body + "\n", status, {"Content-Type": "text/plain"}


@app.get("/health.txt")
def health():
    return text("ok")


@app.get("/")
def index():
    if "cart" in request.args:
        try:
            session["cart"] = int(request.args["cart"])
        except ValueError:
            return text("cart must be a number", 400)
    return text("cart %r" % session.get("cart"))


@app.post("/login")
def login():
    user = USERS.get(request.form.get("user", ""))
    if user is None:
        return text("unknown user", 403)
    # Flask-Login keeps the user in the session as _user_id (with _fresh and _id);
    # Flask-Session keeps the session id: no regeneration at login.
    login_user(user)
    if "api_token" in request.form:
        session["api_token"] = request.form["api_token"]
    return redirect("/dashboard")


@app.get("/dashboard")
def dashboard():
    if not current_user.is_authenticated:
        return redirect("/")
    return text("hello %s" % current_user.name)


@app.post("/logout")
def logout():
    # logout_user only pops the login fields; emptying the session as well makes
    # Flask-Session delete its key and the cookie, instead of keeping the rest of
    # what the user had (the api_token) under the same id.
    logout_user()
    session.clear()
    return redirect("/")


if __name__ == "__main__":
    from werkzeug.serving import make_server

    # "listening" once the socket is bound: the harness waits for that line rather
    # than probing /health.txt, because Flask-Session 0.3 writes a session for every
    # request that comes without a cookie (its new sessions hold _permanent).
    server = make_server("127.0.0.1", int(os.environ["PORT"]), app, threaded=True)
    print("listening", flush=True)
    server.serve_forever()
