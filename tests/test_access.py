"""
Access control on every route: anonymous, viewer and operator users.

The table walks the URLconf as the sitemap does, so a new route is checked
too: as a viewer page unless the sets below list it otherwise. Worker and
task routes get a real worker address and task key of the session cluster.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import AsyncClient, Client, override_settings
from django.urls import (
    URLPattern,
    URLResolver,
    get_resolver,
    reverse,
    set_script_prefix,
)

from clusterdash.access import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from clusterdash.asgi import application

pytestmark = pytest.mark.django_db

LOGIN_PREFIX = "/accounts/login/?next="

#: Task key that the ``task_key`` fixture keeps in memory on the cluster.
TASK_KEY = "access-table-key"

#: Routes that need the operator role; every other listed route needs the
#: viewer role unless it is in ``OPEN_ROUTES``.
OPERATOR_ROUTES = {
    "info:logs",
    "info:worker-logs",
    "info:task",
    "info:call-stacks",
    "info:call-stack",
    "proxy",
}

#: Routes without login: probes and the Prometheus scrape targets.
OPEN_ROUTES = {
    "health",
    "ready",
    "favicon",
    "metrics:scheduler",
    "metrics:workers",
}

#: Routes that return 401/403 with a body instead of redirecting to login.
API_ROUTES = {
    "sitemap",
    "info:counts",
    "info:identity",
    "plots:individual-plots",
    "workers:sitemap",
    "workers:health",
    "workers:metrics",
    "workers:counters-data",
}

#: Routes whose allowed response is a redirect, not a page.
REDIRECT_ROUTES = {"root", "info:index"}

#: Django's own login and admin views, checked on their own below.
SKIPPED_NAMESPACES = ("admin",)
AUTH_ROUTES = {
    "login",
    "logout",
    "password_change",
    "password_change_done",
}

#: Task routes take the task key; the other positional routes a worker.
TASK_ROUTES = {"info:task", "info:call-stack"}


def _named_patterns(patterns, namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}{entry.namespace}:"
            yield from _named_patterns(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def site_routes() -> dict[str, URLPattern]:
    """Return every named route of the site except Django's admin and login."""
    routes = {}
    for name, pattern in _named_patterns(get_resolver().url_patterns):
        if name.startswith(tuple(f"{ns}:" for ns in SKIPPED_NAMESPACES)):
            continue
        if name in AUTH_ROUTES:
            continue
        routes.setdefault(name, pattern)
    return routes


def sample_path(name: str, pattern: URLPattern, address: str) -> str:
    """Return a path of route ``name`` with a real worker or task argument."""
    regex = pattern.pattern.regex
    named = set(regex.groupindex)
    positional = regex.groups - len(named)
    if positional:
        argument = TASK_KEY if name in TASK_ROUTES else address
        return reverse(name, args=[argument])
    samples = {
        "address": address,
        "name": "task-stream",
        "port": "1",
        "host": "127.0.0.1",
        "path": "status",
    }
    return reverse(name, kwargs={group: samples[group] for group in named})


def is_api(name: str) -> bool:
    return name in API_ROUTES or (
        name.startswith("workers:") and name.endswith("-data")
    )


def expected_status(name: str, user: str) -> int:
    """Return the status code route ``name`` must return to ``user``."""
    if name in OPEN_ROUTES:
        return 200
    role = "operator" if name in OPERATOR_ROUTES else "viewer"
    if user == "anonymous":
        return 401 if is_api(name) else 302
    if role == "operator" and user == "viewer":
        return 403
    if name in REDIRECT_ROUTES:
        return 302
    if name == "proxy":
        # Past the role check, the sample target is not a worker's dashboard.
        return 400
    return 200


@pytest.fixture(scope="module")
def task_key(cluster):
    """Keep ``TASK_KEY`` in memory on the session cluster for the module."""
    from distributed import Client as DaskClient

    with DaskClient(cluster, set_as_default=False) as client:
        future = client.submit(sum, [1, 2], key=TASK_KEY)
        future.result(timeout=30)
        yield TASK_KEY
        client.cancel([future])


@pytest.fixture
def address(backend, wait_for_snapshot):
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    return snapshot.workers[0].address


@pytest.fixture
def clients(staff_user, plain_user):
    """Return a Django test client per user kind."""
    viewer = Client()
    viewer.force_login(plain_user)
    operator = Client()
    operator.force_login(staff_user)
    return {"anonymous": Client(), "viewer": viewer, "operator": operator}


def test_every_route_has_a_rule():
    names = set(site_routes())
    listed = OPERATOR_ROUTES | OPEN_ROUTES | API_ROUTES | REDIRECT_ROUTES
    assert listed - names == set()
    # Every other route is a viewer page; make sure the walk found them.
    assert "info:workers" in names
    assert "plots:status" in names
    assert "workers:index" in names


def test_route_table_status_codes(clients, address, task_key):
    mismatches = []
    checked = 0
    for name, pattern in sorted(site_routes().items()):
        path = sample_path(name, pattern, address)
        for user, client in clients.items():
            response = client.get(path)
            expected = expected_status(name, user)
            checked += 1
            if response.status_code != expected:
                mismatches.append((user, path, expected, response.status_code))
                continue
            if expected == 302 and user == "anonymous":
                location = response["Location"]
                if not location.startswith(LOGIN_PREFIX):
                    mismatches.append((user, path, "login redirect", location))
    assert mismatches == []
    assert checked >= 3 * 40


def test_anonymous_api_gets_json_401(clients):
    response = clients["anonymous"].get("/json/counts.json")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "This page needs a logged-in user."}
    assert "Set-Cookie" not in response


def test_viewer_gets_styled_403_page(clients):
    response = clients["viewer"].get("/info/main/logs.html")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b'<nav class="site-nav"' in response.content


def test_login_redirect_follows_prefix(clients):
    # Django's handlers set the script prefix from FORCE_SCRIPT_NAME or the
    # ASGI root_path; the test client does not, so set it here.
    set_script_prefix("/team-a/dask/")
    try:
        response = clients["anonymous"].get(
            "/info/main/workers.html", SCRIPT_NAME="/team-a/dask"
        )
    finally:
        set_script_prefix("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/team-a/dask/accounts/login/?next=")
    assert "team-a/dask/info/main/workers.html" in response["Location"]


def test_inactive_user_is_anonymous(django_user_model, backend):
    user = django_user_model.objects.create_user("gone", password="gone-password")
    client = Client()
    client.force_login(user)
    user.is_active = False
    user.save()

    page = client.get("/info/main/workers.html")
    api = client.get("/json/counts.json")

    assert page.status_code == 302
    assert api.status_code == 401


@pytest.mark.parametrize(
    ("login_required", "staff_only", "user", "path", "expected"),
    [
        (False, True, "anonymous", "/info/main/workers.html", 200),
        (False, True, "anonymous", "/json/counts.json", 200),
        (False, True, "anonymous", "/info/main/logs.html", 302),
        (False, True, "viewer", "/info/main/logs.html", 403),
        (True, False, "anonymous", "/info/main/logs.html", 302),
        (True, False, "viewer", "/info/main/logs.html", 200),
        (False, False, "anonymous", "/info/main/logs.html", 200),
        (False, False, "anonymous", "/json/counts.json", 200),
    ],
)
def test_settings_change_roles(
    clients, backend, login_required, staff_only, user, path, expected
):
    with override_settings(
        CLUSTERDASH_LOGIN_REQUIRED=login_required, CLUSTERDASH_STAFF_ONLY=staff_only
    ):
        response = clients[user].get(path)

    assert response.status_code == expected


# Login, logout and password change ------------------------------------------


def test_login_form_logs_in(plain_user, backend):
    client = Client()
    form = client.get("/accounts/login/?next=/info/main/workers.html")

    response = client.post(
        "/accounts/login/",
        {
            "username": "viewer",
            "password": "viewer-password",
            "next": "/info/main/workers.html",
        },
    )

    assert form.status_code == 200
    assert b'id="login-form"' in form.content
    assert response.status_code == 302
    assert response["Location"] == "/info/main/workers.html"
    assert client.get("/info/main/workers.html").status_code == 200


def test_navigation_shows_user_and_logout(clients, backend):
    anonymous = clients["anonymous"].get("/accounts/login/")
    viewer = clients["viewer"].get("/info/main/workers.html")

    assert b'href="/accounts/login/?next=' in anonymous.content
    assert b'id="logout-form"' not in anonymous.content
    assert b"<strong>viewer</strong>" in viewer.content
    assert b'id="logout-form" method="post" action="/accounts/logout/"' in (
        viewer.content
    )
    assert b'href="/accounts/password_change/"' in viewer.content


def test_logout_needs_post(clients):
    viewer = clients["viewer"]

    assert viewer.get("/accounts/logout/").status_code == 405
    assert viewer.get("/json/counts.json").status_code == 200
    response = viewer.post("/accounts/logout/")
    assert response.status_code == 302
    assert viewer.get("/json/counts.json").status_code == 401


def test_password_change_uses_site_layout(clients):
    anonymous = clients["anonymous"].get("/accounts/password_change/")
    viewer = clients["viewer"].get("/accounts/password_change/")

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(LOGIN_PREFIX)
    assert viewer.status_code == 200
    assert b'<nav class="site-nav"' in viewer.content
    assert b'id="password-change-form"' in viewer.content


def test_password_change_changes_password(clients, plain_user):
    response = clients["viewer"].post(
        "/accounts/password_change/",
        {
            "old_password": "viewer-password",
            "new_password1": "a-new-viewer-password-42",
            "new_password2": "a-new-viewer-password-42",
        },
    )
    done = clients["viewer"].get("/accounts/password_change/done/")

    plain_user.refresh_from_db()
    assert response.status_code == 302
    assert plain_user.check_password("a-new-viewer-password-42")
    assert done.status_code == 200
    assert b"Password changed" in done.content


def test_user_admin_needs_staff(clients):
    assert clients["anonymous"].get("/admin/auth/user/").status_code == 302
    assert clients["viewer"].get("/admin/auth/user/").status_code == 302
    assert clients["operator"].get("/admin/auth/user/").status_code == 403


def test_user_admin_works_for_superuser(django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="root-pass")
    client = Client()
    client.force_login(admin)

    response = client.get("/admin/auth/user/")

    assert response.status_code == 200
    assert b"root" in response.content


def test_hardware_benchmark_needs_operator_post(clients, backend):
    viewer_get = clients["viewer"].get("/hardware")
    viewer_post = clients["viewer"].post("/hardware")

    assert viewer_get.status_code == 200
    assert b"<table" not in viewer_get.content
    assert viewer_post.status_code == 403


# Probes -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "head"])
def test_health_never_sets_cookie(clients, method, caplog):
    caplog.set_level(logging.DEBUG)
    statuses = set()
    cookies = 0
    locations = 0
    for user in ("anonymous", "viewer"):
        send = getattr(clients[user], method)
        for _ in range(500):
            response = send("/health")
            statuses.add(response.status_code)
            cookies += "Set-Cookie" in response or bool(response.cookies)
            locations += "Location" in response

    assert statuses == {200}
    assert cookies == 0
    assert locations == 0
    assert [r for r in caplog.records if r.name.startswith("clusterdash")] == []
    assert [r for r in caplog.records if r.name.startswith("django")] == []


def test_ready_ok_on_live_cluster(clients, backend, caplog):
    caplog.set_level(logging.DEBUG, logger="clusterdash")

    response = clients["anonymous"].get("/ready")
    head = clients["anonymous"].head("/ready")

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert "Set-Cookie" not in response
    assert head.status_code == 200
    assert [r for r in caplog.records if r.name == "clusterdash.views"] == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ready_503_names_dead_scheduler(clients, backend_on_cluster):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    dead = {
        "BACKEND": "clusterdash.backends.dask.DaskBackend",
        "OPTIONS": {"address": address, "timeout": 1.0, "poll_interval": 0.2},
    }
    with override_settings(CLUSTERDASH_BACKEND=dead):
        started = time.monotonic()
        response = clients["anonymous"].get("/ready")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert address in response.content.decode()
    assert "Set-Cookie" not in response
    # Generous bound: the check itself stops after the 1 s backend timeout.
    assert elapsed < 30


def test_ready_is_in_sitemap(clients):
    paths = clients["viewer"].get("/sitemap.json").json()["paths"]

    assert "/ready" in paths
    assert "/health" in paths


# Websockets -------------------------------------------------------------------

TOKEN = re.compile(r'"token":"([^"]+)"')


async def _session_cookies(staff_user, plain_user) -> dict[str, str | None]:
    name = django_settings.SESSION_COOKIE_NAME
    cookies: dict[str, str | None] = {"anonymous": None}
    for kind, user in (("viewer", plain_user), ("operator", staff_user)):
        client = AsyncClient()
        await client.aforce_login(user)
        cookies[kind] = client.cookies[name].value
    return cookies


async def _connect(path: str, cookie: str | None, subprotocols=None):
    headers = [(b"origin", b"http://testserver")]
    if cookie is not None:
        name = django_settings.SESSION_COOKIE_NAME
        headers.append((b"cookie", f"{name}={cookie}".encode()))
    communicator = WebsocketCommunicator(
        application, path, headers=headers, subprotocols=subprotocols
    )
    connected, code = await communicator.connect(timeout=10)
    if connected:
        await communicator.disconnect()
    else:
        await communicator.wait()
    return connected, code


async def _bokeh_token(cookie: str, path: str) -> str:
    client = AsyncClient()
    client.cookies[django_settings.SESSION_COOKIE_NAME] = cookie
    response = await client.get(path)
    assert response.status_code == 200, path
    return TOKEN.search(response.content.decode()).group(1)


@pytest.mark.django_db(transaction=True)
async def test_websocket_routes_check_roles(backend, staff_user, plain_user):
    cookies = await _session_cookies(staff_user, plain_user)
    token = await _bokeh_token(cookies["viewer"], "/individual-cpu")
    subprotocols = {"/individual-cpu/ws": ["bokeh", token]}
    # (path, user) -> (connected, subprotocol or close code). The operator's
    # proxy socket passes the role check, and the consumer then closes it
    # with 1000 because port 1 is no worker's dashboard.
    expected = {
        ("/eventstream", "anonymous"): (False, CLOSE_UNAUTHENTICATED),
        ("/eventstream", "viewer"): (True, None),
        ("/eventstream", "operator"): (True, None),
        ("/individual-cpu/ws", "anonymous"): (False, CLOSE_UNAUTHENTICATED),
        ("/individual-cpu/ws", "viewer"): (True, "bokeh"),
        ("/individual-cpu/ws", "operator"): (True, "bokeh"),
        ("/proxy/1/127.0.0.1/ws", "anonymous"): (False, CLOSE_UNAUTHENTICATED),
        ("/proxy/1/127.0.0.1/ws", "viewer"): (False, CLOSE_FORBIDDEN),
        ("/proxy/1/127.0.0.1/ws", "operator"): (False, 1000),
    }
    results = {}
    for path, user in expected:
        results[(path, user)] = await _connect(
            path, cookies[user], subprotocols.get(path)
        )
    assert results == expected


# Settings ---------------------------------------------------------------------


def _read_access_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CLUSTERDASH_LOGIN_REQUIRED", "CLUSTERDASH_STAFF_ONLY")
    }
    code = (
        "import clusterdash.settings as s; "
        "print(s.CLUSTERDASH_LOGIN_REQUIRED, s.CLUSTERDASH_STAFF_ONLY)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_access_settings_default_on():
    result = _read_access_settings()

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]


def test_access_settings_turn_off():
    result = _read_access_settings(
        CLUSTERDASH_LOGIN_REQUIRED="0", CLUSTERDASH_STAFF_ONLY="off"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_access_setting_rejects_typo():
    result = _read_access_settings(CLUSTERDASH_LOGIN_REQUIRED="maybe")

    assert result.returncode != 0
    assert "CLUSTERDASH_LOGIN_REQUIRED='maybe' is not a boolean" in result.stderr
