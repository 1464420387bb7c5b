"""The URL prefix in paths Django builds, whether or not the proxy strips it."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from django.test import AsyncClient, override_settings
from django.urls import set_script_prefix

PREFIX = "/team-a/dask"


@pytest.fixture
def prefixed(settings):
    settings.FORCE_SCRIPT_NAME = PREFIX
    settings.STATIC_URL = PREFIX + "/statics/"
    # Django's request handlers set the script prefix from FORCE_SCRIPT_NAME;
    # the test clients' handlers do not.
    set_script_prefix(PREFIX)
    yield
    set_script_prefix("/")


@pytest.mark.parametrize("public_path", [False, True], ids=["stripped", "kept"])
async def test_login_link_keeps_prefix(prefixed, public_path):
    path = "/info/main/workers.html"
    if public_path:
        path = PREFIX + path
    response = await AsyncClient().get(path)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        location = response["Location"]
    else:
        location = response.content.decode()
    assert "next=/team-a/dask/info/main/workers.html" in unquote(location)


@pytest.mark.parametrize(
    ("path", "location"),
    [("/", PREFIX + "/status"), ("/info", PREFIX + "/info/main/workers.html")],
)
def test_redirects_keep_prefix(prefixed, staff_client, path, location):
    response = staff_client.get(path)
    assert response.status_code == 302
    assert response["Location"] == location


@pytest.mark.django_db(transaction=True)
async def test_sitemap_paths_keep_prefix(prefixed, viewer_async_client):
    response = await viewer_async_client.get("/sitemap.json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert PREFIX + "/status" in paths
    assert PREFIX + "/statics/js/individual-cluster-map.js" in paths
    for path in paths:
        assert path.startswith(PREFIX + "/"), path
        assert "//" not in path, path


def test_plot_list_relative_to_prefix(prefixed, viewer_client):
    plots = viewer_client.get("/individual-plots.json").json()
    assert plots["Individual Task Stream"] == "individual-task-stream"
    assert plots["Individual Cluster Map"] == "statics/individual-cluster-map.html"
    for path in plots.values():
        assert not path.startswith("/"), path


def test_plot_list_at_root_matches_dask(viewer_client):
    plots = viewer_client.get("/individual-plots.json").json()
    assert plots["Individual Task Stream"] == "/individual-task-stream"
    assert plots["Individual Cluster Map"] == "/statics/individual-cluster-map.html"


@override_settings(FORCE_SCRIPT_NAME=None)
def test_relative_redirect_without_prefix(viewer_client):
    response = viewer_client.get("/info/")
    assert response.status_code == 302
    assert response["Location"] == "main/workers.html"
