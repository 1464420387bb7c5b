"""
Worker dashboards through ``/proxy/<port>/<host>/`` behind nginx at the prefix.

Two extra worker processes join the session cluster, bound to 127.0.0.2
and 127.0.0.3 with their dashboards on ports the kernel picks. Both nginx
modes (keep and strip the prefix) must relay the worker's ``/status``,
``/health`` and ``/metrics``, and in Chromium the proxied ``/status`` and
``/profile`` pages must load every asset and open every websocket under
``/team-a/dask/proxy/<port>/<host>/``. So must the worker's ``/status``
embedded in another page through Bokeh's ``autoload.js``.

Dask 2026.8's worker ``/profile`` document fails to render in BokehJS 3.9
("Select(...).options given invalid value") also when opened directly on
the worker's port, so that failure is Dask's. For that page the tests
require the proxied page to behave as the direct one does: the same
document roots, the same errors and no failed request that the direct
page does not also get.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pytest

from tests.workers.cluster import (
    start_worker_on_free_ports,
    steady_sleeps,
    stop_process,
)

from .client import Session
from .conftest import log_in
from .servers import PREFIX
from .test_crawl import Recorder

pytestmark = pytest.mark.browser

#: Loopback aliases the extra workers bind.
WORKER_HOSTS = ("127.0.0.2", "127.0.0.3")

#: Script that counts the changes the server pushes into the Bokeh document.
COUNT_CHANGES = """() => {
  window.documentChanges = 0;
  Bokeh.documents[0].on_change(() => { window.documentChanges += 1; });
}"""

BOKEH_READY = "window.Bokeh !== undefined && Bokeh.documents.length > 0"
DOCUMENT_ROOTS = "Bokeh.documents.map((doc) => doc.roots().map((root) => root.type))"

#: The worker's Bokeh pages that the browser tests open.
PAGES = ("status", "profile")

#: An ``href`` or ``src`` attribute in a page.
LINK = re.compile(r'(?:href|src)="([^"]*)"')

#: BokehJS logs this once the session's websocket is open.
SOCKET_OPEN = "Websocket connection 0 is now open"


@pytest.fixture(scope="module")
def bound_workers(cluster):
    """Add two workers on 127.0.0.2 and 127.0.0.3 to the session cluster."""
    workers = []
    try:
        for host in WORKER_HOSTS:
            workers.append(
                start_worker_on_free_ports(
                    cluster.scheduler_address, host, f"proxied-{host}"
                )
            )
        yield workers
    finally:
        for worker in workers:
            stop_process(worker.process)


@pytest.fixture(scope="module")
def worker_work(cluster, bound_workers):
    """Keep short tasks running on the extra workers, so their plots change."""
    addresses = [worker.address for worker in bound_workers]
    with steady_sleeps(cluster.scheduler_address, addresses):
        yield


def _proxy_path(worker) -> str:
    return f"{PREFIX}proxy/{worker.dashboard_port}/{worker.host}/"


def _staff_session(origin: str, workers) -> Session:
    """Log in and wait until the site's snapshot lists every worker."""
    session = Session(origin)
    login = session.login(PREFIX, PREFIX + "health")
    assert login.status == 302, login.status
    deadline = time.monotonic() + 30
    for worker in workers:
        while session.get(_proxy_path(worker) + "health").status != 200:
            assert time.monotonic() < deadline, f"site never listed {worker.address}"
            time.sleep(0.2)
    return session


@pytest.mark.parametrize("path", ["status", "health", "metrics"])
def test_worker_route_through_prefix(proxy, bound_workers, path):
    session = _staff_session(proxy, bound_workers)
    for worker in bound_workers:
        direct = Session(f"http://{worker.host}:{worker.dashboard_port}")
        expected = direct.get("/" + path)
        response = session.get(_proxy_path(worker) + path)
        assert response.status == 200, (worker.host, response.status)
        assert response.header("Content-Type") == expected.header("Content-Type")
        assert response.set_cookies() == {}
        if path == "health":
            assert response.text == "ok"
        elif path == "metrics":
            assert "dask_worker_threads" in response.text
        else:
            # Each render has its own Bokeh session, so only the linked URLs
            # can match. Dask names them relative to the page, which keeps
            # them under the proxy path.
            assert LINK.findall(response.text) == LINK.findall(expected.text)
            assert 'src="static/js/bokeh.min.js' in response.text


@dataclass
class PageRun:
    """What one page load produced in the browser."""

    status: int
    roots: list
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


def _normalized(message: str, base: str) -> str:
    """Return the first line of ``message`` without values that vary per run."""
    line = message.splitlines()[0].replace(base, "<page>/")
    # Bokeh session ids, model ids, timestamps and the invalid value itself.
    line = re.sub(r"[A-Za-z0-9]{32,}", "<id>", line)
    line = re.sub(r"\d+(?:\.\d+)*", "<n>", line)
    return re.sub(r": [\[{].*$", ": <value>", line)


def _open(
    context, recorder: Recorder, base: str, path: str, expected_errors: int = 0
) -> PageRun:
    """Open ``base + path``, wait for its Bokeh session and collect its errors."""
    page = context.new_page()
    recorder.watch(page)
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: console.append(message.text))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if message.type == "error" else None
        ),
    )

    response = page.goto(base + path, timeout=60_000)
    page.wait_for_function(BOKEH_READY, timeout=60_000)
    if path == "status":
        page.evaluate(COUNT_CHANGES)
        page.wait_for_function("window.documentChanges > 0", timeout=60_000)

    # The session opens its websocket after the page loads, and the errors
    # of a document that fails to render arrive after that.
    deadline = time.monotonic() + 60
    while not any(SOCKET_OPEN in text for text in console) or (
        len(errors) < expected_errors
    ):
        assert time.monotonic() < deadline, (path, console[-5:])
        page.wait_for_timeout(100)
    run = PageRun(
        response.status,
        page.evaluate(DOCUMENT_ROOTS),
        sorted(_normalized(text, base) for text in errors),
        console,
    )
    page.close()
    return run


def _error_paths(recorder: Recorder, base: str) -> set[str]:
    """Return the failed requests of ``recorder`` relative to ``base``."""
    return {
        re.sub(r"\?.*", "", error.replace(base, "<page>/")) for error in recorder.errors
    }


@pytest.fixture(scope="module")
def direct_pages(browser, bound_workers, worker_work):
    """Open each page directly on the first worker's port, as the baseline."""
    worker = bound_workers[0]
    base = f"http://{worker.host}:{worker.dashboard_port}/"
    context = browser.new_context()
    recorder = Recorder(context, base.rstrip("/"))
    runs = {path: _open(context, recorder, base, path) for path in PAGES}
    context.close()
    assert recorder.aborted == []
    return runs, _error_paths(recorder, base)


def test_worker_pages_through_prefix(
    browser, proxy, bound_workers, worker_work, direct_pages
):
    _staff_session(proxy, bound_workers)
    direct_runs, allowed_errors = direct_pages
    worker = bound_workers[0]
    base = proxy + _proxy_path(worker)
    context = browser.new_context()
    log_in(context, proxy)
    recorder = Recorder(context, proxy)
    for path in PAGES:
        direct = direct_runs[path]
        run = _open(context, recorder, base, path, len(direct.errors))
        assert run.status == 200, path
        assert run.roots == direct.roots, path
        assert run.errors == direct.errors, path
    context.close()

    assert direct_runs["status"].errors == []
    assert _error_paths(recorder, base) <= allowed_errors
    assert recorder.aborted == []
    assert recorder.socket_errors == []
    assert recorder.requests
    for url in recorder.requests:
        assert url.startswith(base), url
    # One Bokeh session per page.
    ws_origin = proxy.replace("http", "ws", 1)
    assert recorder.sockets == [
        ws_origin + _proxy_path(worker) + f"{path}/ws" for path in PAGES
    ]


#: Script that embeds the worker's ``/status`` into the open page through
#: Bokeh's autoload script, as a page of another application would.
EMBED_STATUS = """(src) => {
  const element = document.createElement("div");
  element.id = "embedded-status";
  document.body.append(element);
  const script = document.createElement("script");
  script.src = src;
  document.head.append(script);
}"""


def test_worker_autoload_through_prefix(browser, proxy, bound_workers, worker_work):
    session = _staff_session(proxy, bound_workers)
    # The pages test covers the first worker, this one the second.
    worker = bound_workers[1]
    base = proxy + _proxy_path(worker)
    autoload = (
        "status/autoload.js?bokeh-autoload-element=embedded-status"
        "&bokeh-app-path=/status"
    )
    script = session.get(_proxy_path(worker) + autoload)
    assert script.status == 200
    assert f'"{_proxy_path(worker)}static/js/bokeh.min.js?v=' in script.text
    assert '"/static/' not in script.text

    context = browser.new_context()
    log_in(context, proxy)
    recorder = Recorder(context, proxy)
    page = context.new_page()
    recorder.watch(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The worker's plain-text health page gives the embed a page on the site.
    page.goto(base + "health")
    page.evaluate(EMBED_STATUS, base + autoload)
    page.wait_for_function(BOKEH_READY, timeout=60_000)
    page.evaluate(COUNT_CHANGES)
    page.wait_for_function("window.documentChanges > 0", timeout=60_000)
    context.close()

    assert errors == []
    assert recorder.errors == []
    assert recorder.aborted == []
    assert recorder.socket_errors == []
    for url in recorder.requests:
        assert url.startswith(base), url
    ws_origin = proxy.replace("http", "ws", 1)
    assert recorder.sockets == [ws_origin + _proxy_path(worker) + "status/ws"]
