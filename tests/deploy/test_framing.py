"""Individual plots in iframes of another origin, as JupyterLab shows them."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from urllib.parse import urljoin, urlsplit

import pytest

from .client import Session
from .conftest import log_in
from .servers import PREFIX
from .test_crawl import BOKEH_READY

FRAMED = ["individual-task-stream", "individual-progress"]

FRAMING_PAGE = """<!DOCTYPE html>
<html><body>
<iframe src="{site}individual-task-stream" width="800" height="400"></iframe>
<iframe src="{site}individual-progress" width="800" height="300"></iframe>
</body></html>
"""

#: Every column of every ColumnDataSource, as one comparable text.
SOURCE_DATA = """() => {
  const parts = [];
  for (const model of Bokeh.documents[0]._all_models.values()) {
    if ((model.type || model.constructor.name) === "ColumnDataSource") {
      for (const [name, column] of Object.entries(model.data)) {
        parts.push(name + ":" + Array.from(column).join(","));
      }
    }
  }
  return parts.join(";");
}"""


@pytest.fixture
def framing_site(tmp_path, frame_origin, keep_proxy):
    """Serve a page that frames two plots, on the frame origin's port."""
    (tmp_path / "index.html").write_text(FRAMING_PAGE.format(site=keep_proxy + PREFIX))

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args):
            pass

    port = urlsplit(frame_origin).port
    socketserver.TCPServer.allow_reuse_address = True
    with socketserver.TCPServer(("127.0.0.1", port), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield frame_origin + "/index.html"
        server.shutdown()


@pytest.mark.browser
def test_framed_plots_render_and_update(browser, keep_proxy, framing_site, steady_work):
    context = browser.new_context()
    log_in(context, keep_proxy)
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "frame" in message.text.lower() else None
        ),
    )
    page.goto(framing_site)
    frames = [frame for frame in page.frames if frame != page.main_frame]
    assert len(frames) == len(FRAMED)
    for frame in frames:
        frame.wait_for_function(BOKEH_READY, timeout=40_000)
    for frame in frames:
        before = frame.evaluate(SOURCE_DATA)
        frame.wait_for_function(
            f"({SOURCE_DATA})() !== {json.dumps(before)}", timeout=30_000
        )
    context.close()
    assert blocked == []


def test_individual_pages_carry_frame_policy(keep_proxy, frame_origin):
    session = Session(keep_proxy)
    session.login(PREFIX, PREFIX)
    for name in FRAMED:
        response = session.get(PREFIX + name)
        assert response.status == 200
        policy = response.header("Content-Security-Policy")
        assert policy == f"frame-ancestors 'self' {frame_origin}"
        assert response.header("X-Frame-Options") is None
    cluster_map = session.get(PREFIX + "statics/individual-cluster-map.html")
    assert cluster_map.status == 200
    policy = cluster_map.header("Content-Security-Policy")
    assert policy == f"frame-ancestors 'self' {frame_origin}"


def test_other_pages_deny_framing(keep_proxy):
    session = Session(keep_proxy)
    assert session.get(PREFIX + "accounts/login/").header("X-Frame-Options") == "DENY"
    session.login(PREFIX, PREFIX)
    for path in ["info/main/workers.html", "status", "plots"]:
        response = session.get(PREFIX + path)
        assert response.status == 200
        assert response.header("X-Frame-Options") == "DENY", path
        assert response.header("Content-Security-Policy") is None, path


def test_plot_list_cors_for_allowed_origin(keep_proxy, frame_origin):
    session = Session(keep_proxy)
    session.login(PREFIX, PREFIX)
    listed = session.get(PREFIX + "individual-plots.json", {"Origin": frame_origin})
    assert listed.status == 200
    assert listed.header("Content-Type") == "application/json"
    assert listed.header("Access-Control-Allow-Origin") == frame_origin
    assert "Origin" in listed.header("Vary")
    other = session.get(
        PREFIX + "individual-plots.json", {"Origin": "http://127.0.0.1:1"}
    )
    assert other.status == 200
    assert other.header("Access-Control-Allow-Origin") is None
    assert "Origin" in other.header("Vary")


def test_plot_list_matches_dask(keep_proxy):
    session = Session(keep_proxy)
    session.login(PREFIX, PREFIX)
    plots = json.loads(session.get(PREFIX + "individual-plots.json").body)
    listing = keep_proxy + PREFIX + "individual-plots.json"
    for name, url in plots.items():
        assert name.startswith("Individual "), name
        # JupyterLab's Dask extension appends the value to the dashboard
        # URL; a browser resolves it against the listing's URL. Both must
        # land on the same page under the prefix.
        joined = keep_proxy + PREFIX + url.lstrip("/")
        assert urljoin(listing, url) == joined, url
        assert session.get(PREFIX + url).status == 200, url
    assert plots["Individual Task Stream"] == "individual-task-stream"
    assert plots["Individual Cluster Map"] == "statics/individual-cluster-map.html"
