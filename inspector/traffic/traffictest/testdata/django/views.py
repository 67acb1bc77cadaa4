"""Views and URLs of the Django test app: the flow every framework app serves."""
from django.contrib import auth
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, HttpResponseRedirect
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

# The test client posts only the user name; alice's password is fixed.
PASSWORD = "wonderland"


def text(body):
    return HttpResponse(body + "\n", content_type="text/plain")


@require_GET
def health(request):
    # Readiness probe: touches no session, so Django writes none.
    return text("ok")


@require_GET
def index(request):
    if "cart" in request.GET:
        try:
            request.session["cart"] = int(request.GET["cart"])
        except ValueError:
            return HttpResponseBadRequest("cart must be a number\n")
    return text("cart %r" % request.session.get("cart"))


@csrf_exempt
@require_POST
def login(request):
    user = auth.authenticate(request, username=request.POST.get("user", ""),
                             password=request.POST.get("password", PASSWORD))
    if user is None:
        return HttpResponseForbidden("bad credentials\n")
    # auth.login cycles the session key: the store deletes the old key and writes
    # the session under a new one, with _auth_user_id, _auth_user_backend and
    # _auth_user_hash added.
    auth.login(request, user)
    if "api_token" in request.POST:
        request.session["api_token"] = request.POST["api_token"]
    return HttpResponseRedirect("/dashboard")


@require_GET
def dashboard(request):
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/")
    return text("hello %s" % request.user.get_username())


@csrf_exempt
@require_POST
def logout(request):
    # auth.logout flushes the session: its key is deleted and the browser's cookie
    # cleared; no new session is written until something is stored again.
    auth.logout(request)
    return HttpResponseRedirect("/")


urlpatterns = [
    path("health.txt", health),
    path("", index),
    path("login", login),
    path("dashboard", dashboard),
    path("logout", logout),
]
