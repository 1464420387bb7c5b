"""
A worker's own Bokeh pages opened through /proxy in Debian's chromium.

The workers listen on 127.0.0.2 and 127.0.0.3 with their own dashboards;
daphne serves the site on 127.0.0.1. A staff user logs in and opens the
worker's ``/status`` and ``/profile`` through the proxy: the status plots
must update over the proxied websocket, the profile page's Bokeh session
must open over it, and every request must stay under
``/proxy/<port>/<host>/``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from tests.plots.server import PROJECT, daphne
from tests.plots.test_browser import CHROMIUM_ARGS
from tests.workers.cluster import steady_sleeps, worker_cluster

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: First of the six ports the cluster of these tests listens on.
BASE_PORT = 8560

STAFF_NAME = "proxy-operator"
STAFF_PASSWORD = "proxy-operator-password"

#: Script that counts the changes the server pushes into the Bokeh document.
COUNT_CHANGES = """() => {
  window.documentChanges = 0;
  Bokeh.documents[0].on_change(() => { window.documentChanges += 1; });
}"""


def _create_staff_user(var_dir):
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clusterdash.settings",
        "CLUSTERDASH_VAR_DIR": str(var_dir),
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT,
        env=environment,
        check=True,
        timeout=120,
    )
    script = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({STAFF_NAME!r}, "
        f"password={STAFF_PASSWORD!r}, is_staff=True)"
    )
    subprocess.run(
        [*manage, "shell", "-c", script],
        cwd=PROJECT,
        env=environment,
        check=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def proxied_site(tmp_path_factory):
    """Run the worker cluster and a daphne site on it; yield both."""
    var_dir = tmp_path_factory.mktemp("proxy-site")
    _create_staff_user(var_dir)
    with worker_cluster(BASE_PORT) as cluster, contextlib.ExitStack() as stack:
        # Another process may take the free port between the probe and
        # daphne's bind, so a failed start is retried on the next free port.
        for attempt in range(3):
            try:
                base = stack.enter_context(daphne(cluster.scheduler_address, var_dir))
                break
            except TimeoutError:
                if attempt == 2:
                    raise
        yield cluster, base


@pytest.fixture
def steady_work(proxied_site):
    """Keep tasks running on both workers while the test runs."""
    cluster, _ = proxied_site
    with steady_sleeps(cluster.scheduler_address):
        yield


@pytest.fixture
def staff_page(proxied_site):
    from playwright.sync_api import sync_playwright

    _, base = proxied_site
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = chromium.new_page()
        page.goto(base + "/accounts/login/")
        page.fill("input[name=username]", STAFF_NAME)
        page.fill("input[name=password]", STAFF_PASSWORD)
        page.click("[type=submit]")
        page.wait_for_load_state()
        assert "/accounts/login/" not in page.url
        yield page
        chromium.close()


@pytest.mark.parametrize("path", ["status", "profile"])
@pytest.mark.parametrize("worker_index", [0, 1])
def test_proxied_page_goes_live(
    proxied_site, staff_page, steady_work, path, worker_index
):
    cluster, base = proxied_site
    worker = cluster.workers[worker_index]
    prefix = f"/proxy/{worker.dashboard_port}/{worker.host}/"
    requests: list[str] = []
    sockets: list[str] = []
    failures: list[str] = []
    errors: list[str] = []
    page = staff_page
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.on(
        "response",
        lambda response: (
            failures.append(f"{response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    page.on(
        "requestfailed",
        lambda request: failures.append(f"{request.failure} {request.url}"),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    # A worker's first Bokeh page can take long to render on a busy host.
    response = page.goto(base + prefix + path, timeout=120_000)
    assert response.status == 200
    page.wait_for_function(
        "window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=60_000
    )
    if path == "status":
        page.evaluate(COUNT_CHANGES)
        page.wait_for_function("window.documentChanges > 0", timeout=60_000)
    else:
        # NOTE: Dask 2026.8's worker profile document fails to load in
        # BokehJS 3.9 ("Select ... options given invalid value") when
        # opened directly on the worker too, so only the proxied websocket
        # session is checked here.
        deadline = time.monotonic() + 60
        while not any("is now open" in text for text in console):
            assert time.monotonic() < deadline, console[-5:]
            page.wait_for_timeout(200)

    site = urlsplit(base)
    assert failures == []
    assert sockets
    for url in requests + sockets:
        parts = urlsplit(url)
        assert parts.netloc == site.netloc, url
        # Chromium fetches page icons on its own schedule, and the icon of
        # the login page this reused tab opened first can arrive late.
        if parts.path.endswith("favicon.svg"):
            continue
        assert parts.path.startswith(prefix), url
    for url in sockets:
        assert urlsplit(url).scheme == "ws", url
    assert failures == []
    assert errors == []
