"""The live pages in Debian's chromium, served by daphne."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

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


#: A fingerprint of the plot data: every data source, title and factor
#: list. Notices are left out, so a change means the plots themselves moved.
DATA_FINGERPRINT = """() => {
  const parts = [];
  for (const model of Bokeh.documents[0]._all_models.values()) {
    const name = model.type || model.constructor.name;
    if (name === "ColumnDataSource") {
      parts.push(JSON.stringify(model.data, (key, value) =>
        ArrayBuffer.isView(value) ? Array.from(value) : value));
    } else if (name === "Title") {
      parts.push(model.text);
    } else if (name === "FactorRange") {
      parts.push(JSON.stringify(model.factors));
    }
  }
  return parts.join("|");
}"""

#: True once the document has arrived and every panel has had its first
#: update, which replaces the notice "Waiting for the first update.".
DOCUMENT_READY = """() => {
  if (window.Bokeh === undefined || Bokeh.documents.length === 0) {
    return false;
  }
  for (const model of Bokeh.documents[0]._all_models.values()) {
    const name = model.type || model.constructor.name;
    const waiting = model.text === "Waiting for the first update.";
    if (name === "Div" && model.visible && waiting) {
      return false;
    }
  }
  return true;
}"""

#: Visible notice texts of the document.
NOTICES = """() => {
  const texts = [];
  for (const model of Bokeh.documents[0]._all_models.values()) {
    const name = model.type || model.constructor.name;
    if (name === "Div" && model.visible) {
      texts.push(model.text);
    }
  }
  return texts;
}"""

#: Plots whose data cannot change on this cluster, with the notice they
#: show instead: no worker has a GPU or RMM, and CPython 3.11 does not
#: profile the scheduler's event loop.
STATIC_PLOTS = {
    "/gpu": "No GPU was found",
    "/individual-gpu-memory": "No GPU was found",
    "/individual-gpu-utilization": "No GPU was found",
    "/individual-rmm-memory": "RMM is not in use",
    "/profile-server": "No profile samples",
    "/individual-profile-server": "No profile samples",
}

#: Plots whose data changes only on request or while a transfer is in
#: flight, which a short steady workload does not reliably produce. They
#: must still render every panel without an error.
# NOTE: the profile plots fetch new samples only on the Update button or
# a prefix choice (or while they have none), and the transfer plots change
# only while data moves between workers.
RARE_PLOTS = {
    "/profile",
    "/individual-profile",
    "/individual-bandwidth-types",
    "/individual-bandwidth-workers",
    "/individual-workers-transfer-bytes",
}

#: Pages opened at once in one browser context.
BATCH = 4


def _sleep_inc(x):
    import time

    time.sleep(0.02)
    return x + 1


def _fail(x):
    raise ValueError(f"bad input {x}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(cluster, tmp_path_factory):
    with daphne(cluster.scheduler_address, tmp_path_factory.mktemp("site")) as base:
        yield base


@pytest.fixture(scope="module")
def steady_work(cluster):
    """Keep tasks finishing, failing and moving between workers."""
    from distributed import Client

    stop = threading.Event()
    client = Client(cluster, set_as_default=False)

    def submit():
        batch = 0
        # Each batch stays referenced until the next one is done, so the
        # scheduler always contains tasks and the task graph changes with
        # every batch instead of being empty most of the time.
        previous_batch = []
        while not stop.is_set():
            # Markup in keys must reach labels and tooltips as text.
            keys = [f"<img src=x onerror=alert({batch})>-{i}" for i in range(10)]
            keys += [("<script>alert(2)</script>", batch * 10 + i) for i in range(10)]
            futures = client.map(_sleep_inc, range(20), key=keys)
            # The sum moves results between workers, and the failing task
            # adds a row to the exceptions table.
            total = client.submit(sum, futures, key=f"sum-{batch}")
            failing = client.submit(
                _fail, batch, key=f'"><svg onload=alert(3)>-{batch}'
            )
            client.gather([total])
            failing.exception()
            previous_batch[:] = [futures, total, failing]
            del futures, total, failing
            batch += 1
            time.sleep(1.0)

    thread = threading.Thread(target=submit, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(30)
    client.close()


@pytest.fixture(scope="module")
def local_context(browser, site):
    """A viewer's browser context that aborts every request not to 127.0.0.1."""
    context = browser.new_context()
    login_browser(context, site, "viewer")
    hosts: set[str] = set()
    aborted: list[str] = []

    def only_local(route):
        host = urlsplit(route.request.url).hostname
        hosts.add(host)
        if host == "127.0.0.1":
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    yield context, hosts, aborted
    context.close()


def _open_watched(context, url: str, problems: list[str]):
    page = context.new_page()
    page.on(
        "console",
        lambda m: problems.append(f"{url}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"{url}: {exc}"))
    page.on("dialog", lambda dialog: problems.append(f"{url}: dialog {dialog.message}"))
    response = page.goto(url)
    assert response.status == 200, url
    return page


def _every_plot_path(site: str) -> list[str]:
    headers = {"Cookie": session_cookie(login_session(site, "viewer"))}
    listing = urllib.request.Request(site + "/individual-plots.json", headers=headers)
    with urllib.request.urlopen(listing) as response:
        plots = json.load(response)
    index_request = urllib.request.Request(site + "/plots", headers=headers)
    with urllib.request.urlopen(index_request) as response:
        index = response.read().decode()
    # The first list of the index is the live pages, the second the plots.
    pages_list = re.search(r'<ul class="plot-index">(.*?)</ul>', index, re.DOTALL)
    pages = [
        path
        for path in re.findall(r'<a href="([^"]+)">', pages_list.group(1))
        if path != "/hardware"
    ]
    individual = [path for path in plots.values() if not path.endswith(".html")]
    return sorted(set(pages)) + sorted(individual)


def test_every_plot_updates_live(site, steady_work, local_context):
    context, hosts, aborted = local_context
    paths = _every_plot_path(site)
    assert "/status" in paths
    assert "/individual-task-stream" in paths
    problems: list[str] = []
    still: list[str] = []
    for start in range(0, len(paths), BATCH):
        batch = paths[start : start + BATCH]
        pages = {path: _open_watched(context, site + path, problems) for path in batch}
        first = {}
        for path, page in pages.items():
            try:
                page.wait_for_function(DOCUMENT_READY, timeout=60_000)
            except PlaywrightTimeout:
                pytest.fail(f"{path}: no document, or a panel never updated")
            first[path] = page.evaluate(DATA_FINGERPRINT)
        for path, page in pages.items():
            if path in STATIC_PLOTS:
                notices = page.evaluate(NOTICES)
                wanted = STATIC_PLOTS[path]
                assert any(text.startswith(wanted) for text in notices), (path, notices)
                continue
            if path in RARE_PLOTS:
                continue
            try:
                page.wait_for_function(
                    f"({DATA_FINGERPRINT})() !== {json.dumps(first[path])}",
                    timeout=20_000,
                )
            except PlaywrightTimeout:
                still.append(path)
        for page in pages.values():
            page.close()
    assert problems == []
    assert still == []
    assert aborted == []
    assert hosts == {"127.0.0.1"}


def test_hostile_keys_show_as_text(site, steady_work, local_context):
    context, _, aborted = local_context
    problems: list[str] = []
    page = _open_watched(context, site + "/individual-task-stream", problems)
    page.wait_for_function(DOCUMENT_READY, timeout=60_000)
    page.wait_for_function(f"({TASK_STREAM_ROWS})() > 20", timeout=60_000)
    canvas = page.locator("canvas").first
    box = canvas.bounding_box()
    tooltip = page.get_by_text("onerror=alert", exact=False)
    # Sweep the pointer over the plot until a tooltip of a hostile key shows.
    # Other work on the shared cluster can fill most of the stream, so the
    # sweep is fine and repeats while new bars arrive.
    text = None
    for _sweep in range(3):
        for row in range(3, 100, 6):
            for column in range(1, 100, 3):
                page.mouse.move(
                    box["x"] + box["width"] * column / 100,
                    box["y"] + box["height"] * row / 100,
                )
                if tooltip.count():
                    text = tooltip.first.text_content(timeout=2_000)
                    break
            if text is not None:
                break
        if text is not None:
            break
        page.mouse.move(0, 0)
        page.wait_for_timeout(1_000)
    assert text is not None, "no tooltip showed a key with markup"
    assert "<img src=x onerror=alert(" in text
    # Markup in keys must not become elements, in the light or shadow DOM.
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("svg[onload]").count() == 0
    page.close()
    assert problems == []
    assert aborted == []


def test_system_plots_fill_width(site, local_context, tmp_path):
    context, _, aborted = local_context
    problems: list[str] = []
    page = _open_watched(context, site + "/system", problems)
    page.wait_for_function(DOCUMENT_READY, timeout=60_000)
    viewport = page.viewport_size["width"]
    page.screenshot(path=str(tmp_path / "system.png"), full_page=True)
    boxes = [canvas.bounding_box() for canvas in page.locator("canvas").all()]
    # Bokeh draws each 200 px high figure on several stacked canvases, and
    # also keeps small canvases that are not figures.
    widths = [box["width"] for box in boxes if box and box["height"] >= 150]
    assert len(widths) >= 4, f"figure canvases: {boxes}"
    # Two figures share each row, so each takes about half the viewport.
    for width in widths:
        assert width > viewport / 3, f"canvas {width} px in a {viewport} px page"
    page.close()
    assert problems == []
    assert aborted == []


#: background_fill_color of every Plot in the document.
PLOT_BACKGROUNDS = """() => {
  const colours = [];
  for (const model of Bokeh.documents[0]._all_models.values()) {
    const name = model.type || model.constructor.name;
    if (name === "Plot" || name === "Figure") {
      colours.push(model.background_fill_color);
    }
  }
  return colours;
}"""

#: Background colour of the first data-table cell, inside the shadow DOM.
CELL_BACKGROUND = """() => {
  const find = (root) => {
    const cell = root.querySelector(".slick-cell");
    if (cell) return cell;
    for (const element of root.querySelectorAll("*")) {
      if (element.shadowRoot) {
        const found = find(element.shadowRoot);
        if (found) return found;
      }
    }
    return null;
  };
  const cell = find(document);
  return cell ? getComputedStyle(cell).backgroundColor : null;
}"""


def test_plots_follow_dark_mode(browser, site):
    context = browser.new_context(color_scheme="dark")
    login_browser(context, site, "viewer")
    problems: list[str] = []
    page = _open_watched(context, site + "/status", problems)
    page.wait_for_function(DOCUMENT_READY, timeout=60_000)
    page.wait_for_function(
        f"({PLOT_BACKGROUNDS})().every((colour) => colour === '#1e1e1e')",
        timeout=10_000,
    )
    assert len(page.evaluate(PLOT_BACKGROUNDS)) >= 5
    # The admin theme toggle stores its choice on <html data-theme>.
    page.evaluate("document.documentElement.dataset.theme = 'light'")
    page.wait_for_function(
        f"({PLOT_BACKGROUNDS})().every((colour) => colour === '#ffffff')",
        timeout=10_000,
    )
    page.close()

    table = _open_watched(context, site + "/individual-workers", problems)
    table.wait_for_function(DOCUMENT_READY, timeout=60_000)
    table.wait_for_function(f"({CELL_BACKGROUND})() !== null", timeout=20_000)
    table.wait_for_function(
        f"({CELL_BACKGROUND})() !== 'rgb(255, 255, 255)'", timeout=10_000
    )
    body = table.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == "rgb(18, 18, 18)"
    table.close()
    context.close()
    assert problems == []


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
