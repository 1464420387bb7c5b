"""The Bokeh pages over HTTP: status codes, asset URLs, the plot list."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse, set_script_prefix

from plots import bokeh_server
from plots.catalog import INDIVIDUAL, PAGES
from plots.views import individual_plots

ASSET = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"')

pytestmark = pytest.mark.django_db(transaction=True)


def _asset_urls(html: str) -> list[str]:
    return ASSET.findall(html)


async def test_individual_page_loads_local_assets(viewer_async_client, backend):
    response = await viewer_async_client.get("/individual-task-stream")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    urls = _asset_urls(html)
    assert any(url.endswith("bokeh.min.js") or "bokeh.min.js?" in url for url in urls)
    for url in urls:
        if url.startswith("data:"):
            continue
        assert url.startswith("/statics/"), url
    assert "Bokeh.embed" in html or "embed_items" in html


async def test_individual_page_may_be_framed(viewer_async_client, backend, settings):
    settings.CLUSTERDASH_ALLOWED_ORIGINS = ["http://127.0.0.1:8888"]
    response = await viewer_async_client.get("/individual-progress")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert policy == "frame-ancestors 'self' http://127.0.0.1:8888"


async def test_individual_trailing_slash(viewer_async_client, backend):
    response = await viewer_async_client.get("/individual-cpu/")
    assert response.status_code == 200


async def test_unknown_individual_plot_is_404(viewer_async_client, backend):
    response = await viewer_async_client.get("/individual-no-such-plot")
    assert response.status_code == 404


@pytest.mark.parametrize("name", sorted(PAGES))
async def test_navigation_page_loads_local_assets(viewer_async_client, name, backend):
    response = await viewer_async_client.get(reverse(f"plots:{name}"))
    assert response.status_code == 200
    urls = _asset_urls(response.content.decode())
    bokeh = [url for url in urls if "/bokeh/static/js/" in url]
    assert bokeh
    for url in urls:
        if url.startswith(("data:", "#")):
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url


def test_individual_plots_json_shape(viewer_client):
    response = viewer_client.get("/individual-plots.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    plots = response.json()
    assert plots["Individual Task Stream"] == "/individual-task-stream"
    assert plots["Individual Cpu"] == "/individual-cpu"
    assert plots["Individual Gpu Memory"] == "/individual-gpu-memory"
    assert plots["Individual Cluster Map"] == "/statics/individual-cluster-map.html"
    assert len(plots) == len(INDIVIDUAL) + 1
    for name, path in plots.items():
        assert name.startswith("Individual "), name
        assert path.startswith("/"), path


def test_individual_plots_json_cors_for_listed_origins(viewer_client, settings):
    settings.CLUSTERDASH_ALLOWED_ORIGINS = ["http://127.0.0.1:8888"]
    listed = viewer_client.get(
        "/individual-plots.json", headers={"Origin": "http://127.0.0.1:8888"}
    )
    assert listed["Access-Control-Allow-Origin"] == "http://127.0.0.1:8888"
    other = viewer_client.get(
        "/individual-plots.json", headers={"Origin": "http://evil.test"}
    )
    assert "Access-Control-Allow-Origin" not in other


def test_individual_plots_json_follows_prefix(rf, plain_user):
    # Django's handlers set the script prefix from FORCE_SCRIPT_NAME or the
    # ASGI root_path; the test client does not, so set it here.
    set_script_prefix("/dash/")
    try:
        with override_settings(STATIC_URL="/dash/statics/"):
            request = rf.get("/individual-plots.json")
            request.user = plain_user
            response = individual_plots(request)
    finally:
        set_script_prefix("/")
    plots = json.loads(response.content)
    # Relative to the prefix, so that JupyterLab's Dask extension, which
    # appends the value to the dashboard URL, does not repeat the prefix.
    assert plots["Individual Task Stream"] == "individual-task-stream"
    assert plots["Individual Cluster Map"] == "statics/individual-cluster-map.html"


async def test_page_requests_build_no_session(viewer_async_client, backend):
    # The document is built when the page's websocket opens, so requests
    # that never open it (crawlers, load tests) leave nothing to reap.
    apps = {"/individual-progress": "individual-progress", "/status": "status"}
    for path, app in apps.items():
        assert bokeh_server.session_count(app) == 0
        for _ in range(5):
            response = await viewer_async_client.get(path)
            assert response.status_code == 200
        assert bokeh_server.session_count(app) == 0


@override_settings(
    CLUSTERDASH_BOKEH_SESSION_LIFETIME=1.0, CLUSTERDASH_BOKEH_REAPER_INTERVAL=0.1
)
async def test_closed_websocket_leaves_no_session(viewer_async_client, backend):
    from channels.testing import WebsocketCommunicator

    from clusterdash.asgi import application

    response = await viewer_async_client.get("/individual-nprocessing")
    token = re.search(r'"token":"([^"]+)"', response.content.decode()).group(1)
    session = viewer_async_client.cookies[settings.SESSION_COOKIE_NAME].value
    communicator = WebsocketCommunicator(
        application,
        "/individual-nprocessing/ws",
        headers=[(b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode())],
        subprotocols=["bokeh", token],
    )
    connected, subprotocol = await communicator.connect()
    assert connected
    assert subprotocol == "bokeh"
    # The first frame of Bokeh's ACK message is its header.
    header = json.loads(await communicator.receive_from(timeout=5))
    assert header["msgtype"] == "ACK"
    await communicator.disconnect()
    for _ in range(100):
        if bokeh_server.session_count("individual-nprocessing") == 0:
            break
        await asyncio.sleep(0.1)
    assert bokeh_server.session_count("individual-nprocessing") == 0


async def test_websocket_without_bokeh_subprotocol_is_closed(backend):
    from channels.testing import WebsocketCommunicator

    from clusterdash.asgi import application

    communicator = WebsocketCommunicator(application, "/individual-cpu/ws")
    connected, _ = await communicator.connect()
    assert not connected


TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)


def _title(html: str) -> str:
    return TITLE.search(html).group(1).strip()


async def test_nbytes_serves_cluster_memory(viewer_async_client, backend):
    response = await viewer_async_client.get("/individual-nbytes")
    assert response.status_code == 200
    html = response.content.decode()
    assert _title(html) == "Dask: ClusterMemory"
    # The session belongs to the cluster memory plot, so the websocket
    # opens on that plot's path.
    assert '"/individual-cluster-memory"' in html
    plots = (await viewer_async_client.get("/individual-plots.json")).json()
    assert "Individual Nbytes" not in plots


def test_page_titles_name_the_page(viewer_client, backend):
    titles = {}
    for name, (title, _) in PAGES.items():
        html = viewer_client.get(reverse(f"plots:{name}")).content.decode()
        titles[name] = _title(html)
        assert title in titles[name], name
    for name, (component, _) in INDIVIDUAL.items():
        path = reverse("plots:individual", args=[name])
        html = viewer_client.get(path).content.decode()
        titles[f"individual-{name}"] = _title(html)
        assert titles[f"individual-{name}"] == f"Dask: {component}", name
    assert "Dask Diagnostic UI" not in titles.values()
    page_titles = [titles[name] for name in PAGES]
    assert len(set(page_titles)) == len(page_titles)


def test_hardware_post_needs_csrf_token(staff_user, backend):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    form = client.get("/hardware")
    assert form.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in form.content.decode()
    response = client.post("/hardware")
    assert response.status_code == 403
    assert "<table" not in response.content.decode()


@pytest.mark.slow
def test_hardware_post_runs_benchmark(staff_user, backend):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    form = client.get("/hardware").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    response = client.post("/hardware", {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<table" in html
    assert "100 MiB" in html
    assert "/s</td>" in html
