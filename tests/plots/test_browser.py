"""The live pages in Debian's chromium, served by daphne."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.live import login_browser, login_session, session_cookie

from .server import daphne

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Total length of the first column of every ColumnDataSource in the page.
SOURCE_ROWS = """() => {
  let rows = 0;
  for (const model of Bokeh.documents[0]._all_models.values()) {
    const name = model.type || model.constructor.name;
    if (name === "ColumnDataSource") {
      const column = Object.keys(model.data)[0];
      rows += column ? model.data[column].length : 0;
    }
  }
  return rows;
}"""

TASK_STREAM_ROWS = """() => {
  for (const model of Bokeh.documents[0]._all_models.values()) {
    if (model.data !== undefined && "duration" in model.data) {
      return model.data.duration.length;
    }
  }
  return -1;
}"""


def _sleep_inc(x):
    import time

    time.sleep(0.02)
    return x + 1


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def site(cluster, tmp_path):
    with daphne(cluster.scheduler_address, tmp_path) as base:
        yield base


@pytest.fixture
def steady_work(dask_client):
    """Keep tasks finishing on the cluster while the test runs."""
    stop = threading.Event()

    def submit():
        batch = 0
        while not stop.is_set():
            # Markup in keys must reach labels and tooltips as text.
            keys = [f"<img src=x onerror=alert({batch})>-{i}" for i in range(10)]
            keys += [("<script>alert(2)</script>", batch * 10 + i) for i in range(10)]
            futures = dask_client.map(_sleep_inc, range(20), key=keys)
            dask_client.gather(futures)
            del futures
            batch += 1
            time.sleep(0.2)

    thread = threading.Thread(target=submit, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(30)


@pytest.mark.parametrize("path", ["/status", "/individual-task-stream"])
def test_page_streams_tasks(path, browser, site, steady_work):
    context = browser.new_context()
    login_browser(context, site, "viewer")
    page = context.new_page()
    errors: list[str] = []
    hosts: set[str] = set()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    page.goto(site + path)
    page.wait_for_function(
        "window.Bokeh !== undefined && Bokeh.documents.length > 0", timeout=40_000
    )
    page.wait_for_function(f"({TASK_STREAM_ROWS})() > 0", timeout=40_000)
    first = page.evaluate(TASK_STREAM_ROWS)
    page.wait_for_function(f"({TASK_STREAM_ROWS})() > {first}", timeout=40_000)
    assert page.evaluate(SOURCE_ROWS) > 0
    page.close()
    context.close()
    assert errors == []
    assert hosts == {"127.0.0.1"}


def test_every_individual_plot_renders_offline(browser, site):
    cookie = session_cookie(login_session(site, "viewer"))
    request = urllib.request.Request(
        site + "/individual-plots.json", headers={"Cookie": cookie}
    )
    with urllib.request.urlopen(request) as response:
        plots = json.load(response)
    context = browser.new_context()
    login_browser(context, site, "viewer")
    aborted: list[str] = []
    errors: list[str] = []

    def only_local(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    for name, path in sorted(plots.items()):
        if path.endswith(".html"):
            continue
        page = context.new_page()
        page.on(
            "console", lambda m: errors.append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        response = page.goto(site + path)
        assert response.status == 200, name
        page.wait_for_function(
            "window.Bokeh !== undefined && Bokeh.documents.length > 0",
            timeout=40_000,
        )
        page.close()
        assert errors == [], name
    context.close()
    assert aborted == []


FRAMING_PAGE = """<!DOCTYPE html>
<html><body>
<iframe src="{site}/individual-task-stream" width="800" height="400"></iframe>
<iframe src="{site}/individual-progress" width="800" height="300"></iframe>
</body></html>
"""


def test_individual_plots_render_in_frames(browser, cluster, tmp_path):
    import http.server
    import socketserver

    from .server import free_port

    (tmp_path / "index.html").write_text("")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with socketserver.TCPServer(("127.0.0.1", port), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with daphne(
                cluster.scheduler_address,
                tmp_path,
                CLUSTERDASH_FRAME_ANCESTORS=origin,
            ) as site:
                (tmp_path / "index.html").write_text(FRAMING_PAGE.format(site=site))
                context = browser.new_context()
                # The framing page and the site differ only in port, so they
                # are same-site and the browser sends the session cookie.
                login_browser(context, site, "viewer")
                page = context.new_page()
                page.goto(origin + "/index.html")
                frames = [frame for frame in page.frames if frame != page.main_frame]
                assert len(frames) == 2
                for frame in frames:
                    frame.wait_for_function(
                        "window.Bokeh !== undefined && Bokeh.documents.length > 0",
                        timeout=40_000,
                    )
                page.close()
        finally:
            server.shutdown()
