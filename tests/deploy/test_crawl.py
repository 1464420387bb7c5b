"""Every page, asset and websocket stays under the prefix, in Chromium."""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

import pytest

from .client import Session
from .conftest import log_in
from .servers import PREFIX

pytestmark = pytest.mark.browser

#: Sitemap paths that a plain GET cannot open: logging out takes a POST, and
#: the admin's autocomplete needs query arguments naming a model field.
NOT_FOR_PLAIN_GET = {"accounts/logout/", "admin/logout/", "admin/autocomplete/"}

#: Sitemap patterns filled with values that exist; ``{worker}`` is a worker
#: address. Other patterns need objects the tests do not create.
FILLED_PATTERNS = {
    "admin/(auth)/": ["admin/auth/"],
    "info/worker/(.*).html": ["info/worker/{worker}.html"],
    "info/logs/(.*).html": ["info/logs/{worker}.html"],
    "info/call-stacks/(.*).html": ["info/call-stacks/{worker}.html"],
}
WORKER_PAGE_PATTERN = "workers/(.+?)/"

#: Element attributes whose URLs the crawl checks, read as resolved URLs.
LINKED_URLS = """() => {
  const urls = [];
  for (const element of document.querySelectorAll("[href], [src], [action]")) {
    for (const name of ["href", "src", "action"]) {
      if (element.hasAttribute(name)) {
        urls.push(new URL(element.getAttribute(name), document.baseURI).href);
      }
    }
  }
  return urls;
}"""

BOKEH_PAGE = "document.querySelector('.bokeh-page') !== null"
BOKEH_READY = "window.Bokeh !== undefined && Bokeh.documents.length > 0"


def _crawl_paths(origin: str, worker: str) -> list[str]:
    session = Session(origin)
    session.login(PREFIX, PREFIX)
    sitemap = session.get(PREFIX + "sitemap.json")
    assert sitemap.status == 200
    plots = session.get(PREFIX + "individual-plots.json")
    assert plots.status == 200
    encoded_worker = quote(worker, safe="")
    paths = []
    for path in json.loads(sitemap.body)["paths"]:
        assert path.startswith(PREFIX), path
        route = path.removeprefix(PREFIX)
        if route in NOT_FOR_PLAIN_GET:
            continue
        if route in FILLED_PATTERNS:
            paths += [
                PREFIX + filled.format(worker=encoded_worker)
                for filled in FILLED_PATTERNS[route]
            ]
        elif route.startswith(WORKER_PAGE_PATTERN):
            paths.append(PREFIX + route.replace("(.+?)", encoded_worker, 1))
        elif "(" not in route:
            paths.append(path)
    for url in json.loads(plots.body).values():
        # Relative to the prefix, as JupyterLab's Dask extension joins them.
        assert not url.startswith("/"), url
        paths.append(PREFIX + url)
    return sorted(set(paths))


class Recorder:
    """Every request, failure and websocket of a browser context."""

    def __init__(self, context, origin: str):
        self.origin = origin
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.aborted: list[str] = []
        self.sockets: list[str] = []
        self.socket_errors: list[str] = []
        context.route("**/*", self._route)
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("response", self._response)
        context.on("requestfailed", self._failed)

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort()

    def _response(self, response):
        if response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def _failed(self, request):
        # Leaving a page cancels its pending polls with ERR_ABORTED, which is
        # no failure of the server.
        if request.failure == "net::ERR_ABORTED":
            return
        if request.url.startswith(self.origin + "/"):
            self.errors.append(f"failed {request.url}: {request.failure}")

    def watch(self, page) -> None:
        """Record the websockets ``page`` opens and their errors."""

        def opened(socket):
            self.sockets.append(socket.url)
            socket.on(
                "socketerror",
                lambda error: self.socket_errors.append(f"{socket.url}: {error}"),
            )

        page.on("websocket", opened)


def _local_urls(urls: list[str]) -> list[str]:
    skipped = ("data:", "blob:", "javascript:", "about:", "mailto:")
    return [url for url in urls if not url.startswith(skipped)]


def _under_prefix(url: str, origin: str) -> bool:
    """Return whether ``url`` is on ``origin`` under the prefix, bare or not."""
    path = urlsplit(url).path
    if not url.startswith(origin + "/") or "//" in path:
        return False
    # The admin's "View site" link is the prefix without its slash.
    return path.startswith(PREFIX) or path == PREFIX.rstrip("/")


def _outside_links(page, path: str, origin: str) -> list[str]:
    return [
        f"{path}: {url}"
        for url in _local_urls(page.evaluate(LINKED_URLS))
        if not _under_prefix(url, origin)
    ]


def test_crawl_stays_under_prefix(browser, proxy, worker_address):
    context = browser.new_context()
    recorder = Recorder(context, proxy)
    landed = log_in(context, proxy)
    assert urlsplit(landed).path == PREFIX + "info/main/workers.html"
    paths = _crawl_paths(proxy, worker_address)
    assert len(paths) > 60

    bokeh_pages = 0
    outside: list[str] = []
    for path in paths:
        page = context.new_page()
        recorder.watch(page)
        response = page.goto(proxy + path, timeout=60_000)
        assert response is not None, path
        assert response.status == 200, (path, response.status)
        if "html" in (response.header_value("content-type") or ""):
            if page.evaluate(BOKEH_PAGE):
                page.wait_for_function(BOKEH_READY, timeout=60_000)
                bokeh_pages += 1
            outside.extend(_outside_links(page, path, proxy))
        page.close()
    context.close()

    assert bokeh_pages >= 20
    assert outside == []
    assert recorder.errors == []
    assert recorder.aborted == []
    assert recorder.socket_errors == []
    assert len(recorder.sockets) >= bokeh_pages
    for url in recorder.requests:
        assert _under_prefix(url, proxy), url
    for url in recorder.sockets:
        assert url.startswith(proxy.replace("http", "ws", 1) + PREFIX), url


def test_cluster_map_stream_under_prefix(browser, proxy, steady_work):
    context = browser.new_context()
    recorder = Recorder(context, proxy)
    log_in(context, proxy)
    page = context.new_page()
    recorder.watch(page)
    page.goto(proxy + PREFIX + "statics/individual-cluster-map.html")
    page.wait_for_function(
        "document.getElementById('status').textContent === 'Live'", timeout=60_000
    )
    page.wait_for_function(
        "document.querySelectorAll('#workers circle').length >= 2", timeout=60_000
    )
    context.close()
    ws_origin = proxy.replace("http", "ws", 1)
    assert recorder.sockets == [ws_origin + PREFIX + "eventstream"]
    assert recorder.errors == []
    assert recorder.aborted == []
