"""Site-wide routes: root redirect, health probe, sitemap, navigation."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from clusterdash.context_processors import navigation_links
from clusterdash.navigation import NAVIGATION


def test_root_redirects_to_status_relative(viewer_client):
    response = viewer_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "status"


@pytest.mark.parametrize(
    ("path", "location"),
    [("/info", "info/main/workers.html"), ("/info/", "main/workers.html")],
)
def test_info_redirects_relative(viewer_client, path, location):
    response = viewer_client.get(path)

    assert response.status_code == 302
    assert response["Location"] == location
    assert "//" not in response["Location"]


@pytest.mark.parametrize("method", ["get", "head"])
def test_health_answers_ok(client, method):
    response = getattr(client, method)("/health")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert not response.cookies
    if method == "get":
        assert response.content == b"ok"


def test_health_answers_logged_in_users_without_cookie(staff_client):
    response = staff_client.get("/health")

    assert response.status_code == 200
    assert not response.cookies


def test_health_rejects_post(client):
    response = client.post("/health")

    assert response.status_code == 405


def test_sitemap_lists_routes_in_dask_style(viewer_client):
    response = viewer_client.get("/sitemap.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    paths = json.loads(response.content)["paths"]
    assert paths == sorted(paths)
    for expected in (
        "/health",
        "/sitemap.json",
        "/info/main/workers.html",
        "/info/task/(.*).html",
        "/info/worker/(.*).html",
        "/json/counts.json",
        "/metrics",
        "/statics/clusterdash/site.css",
    ):
        assert expected in paths


def test_sitemap_lists_plot_routes_that_exist(viewer_client):
    paths = json.loads(viewer_client.get("/sitemap.json").content)["paths"]

    assert reverse("plots:status") in paths
    assert "/individual-plots.json" in paths


def test_sitemap_lists_no_python_or_bokeh_files(viewer_client):
    paths = json.loads(viewer_client.get("/sitemap.json").content)["paths"]

    assert not [p for p in paths if p.endswith((".py", ".pyc"))]
    assert not [p for p in paths if p.startswith("/statics/bokeh/")]
    assert len(paths) < 1000


def test_navigation_shows_only_reversible_entries():
    links = navigation_links()

    names = [link["name"] for link in links]
    assert "info:workers" in names
    assert len(links) <= len(NAVIGATION)
    for link in links:
        assert link["url"] == reverse(link["name"])


def test_pages_show_navigation_bar(viewer_client, wait_for_snapshot):
    wait_for_snapshot(lambda s: len(s.workers) == 2)

    response = viewer_client.get("/info/main/workers.html")

    assert b'<nav class="site-nav"' in response.content
    assert b'href="/info/main/exceptions.html"' in response.content


def test_login_page_uses_site_layout(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert b'<nav class="site-nav"' in response.content
    assert b'id="login-form"' in response.content


def test_unknown_path_is_styled_404(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert b"does not exist" in response.content


def _site_templates():
    from django.conf import settings

    root = settings.BASE_DIR / "templates"
    names = ["404.html", "403.html", "500.html", "503.html", "504.html"]
    paths = [root / name for name in names]
    paths += sorted((root / "info").glob("*.html"))
    paths += sorted((root / "registration").glob("*.html"))
    return paths


def test_templates_link_by_url_names_only():
    for path in [*_site_templates(), _site_templates()[0].parent / "base.html"]:
        text = path.read_text()

        assert 'href="/' not in text, path
        assert 'href="../' not in text, path
        assert "|safe" not in text, path


def test_page_templates_extend_base():
    for path in _site_templates():
        first_line = path.read_text().splitlines()[0]

        if path.name.startswith("_"):
            continue
        assert first_line.startswith("{% extends "), path


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "status"),
        ("/info", "info/main/workers.html"),
        ("/info/", "main/workers.html"),
    ],
)
def test_redirects_stay_under_prefix(viewer_client, path, location):
    response = viewer_client.get(path, SCRIPT_NAME="/team-a/dask")

    assert response.status_code == 302
    assert response["Location"] == location


def test_sitemap_paths_carry_prefix(viewer_client):
    response = viewer_client.get("/sitemap.json", SCRIPT_NAME="/team-a/dask")

    paths = json.loads(response.content)["paths"]
    assert "/team-a/dask/health" in paths
    assert "/team-a/dask/statics/clusterdash/site.css" in paths
    assert all(p.startswith("/team-a/dask/") for p in paths)


@pytest.mark.django_db
async def test_unknown_websocket_path_is_rejected():
    from channels.testing import WebsocketCommunicator

    from clusterdash.asgi import application
    from clusterdash.routing import NO_ROUTE

    communicator = WebsocketCommunicator(
        application, "/no-such-socket", headers=[(b"host", b"127.0.0.1:8000")]
    )
    connected, code = await communicator.connect(timeout=5)
    await communicator.disconnect()

    assert connected is False
    assert code == NO_ROUTE


@pytest.mark.django_db
def test_password_reset_is_not_served(client):
    # Resetting a password needs outgoing mail, which the site does not send.
    for path in ("/accounts/password_reset/", "/accounts/reset/done/"):
        assert client.get(path).status_code == 404, path


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "head"])
def test_favicon_is_open(client, method):
    response = getattr(client, method)("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "Set-Cookie" not in response


def test_sitemap_leaves_out_favicon(viewer_client):
    paths = json.loads(viewer_client.get("/sitemap.json").content)["paths"]

    assert "/favicon.ico" not in paths
    assert "/statics/clusterdash/favicon.svg" in paths


@pytest.mark.parametrize("path", ["/status", "/individual-task-stream", "/plots"])
@pytest.mark.parametrize("method", ["post", "options", "put"])
def test_plot_pages_accept_only_get_and_head(viewer_client, path, method):
    response = getattr(viewer_client, method)(path)

    assert response.status_code == 405
    assert "GET" in response["Allow"]
    assert "HEAD" in response["Allow"]


@pytest.mark.parametrize(
    "path", ["/info/main/workers.html", "/json/counts.json", "/sitemap.json"]
)
def test_info_pages_serve_head_like_get(viewer_client, path):
    get = viewer_client.get(path)
    head = viewer_client.head(path)

    assert get.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Type"] == get["Content-Type"]
