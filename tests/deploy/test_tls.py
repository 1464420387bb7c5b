"""TLS ends at nginx; the site builds https and wss URLs behind it."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest

from .client import Session
from .conftest import log_in
from .servers import PREFIX
from .test_crawl import BOKEH_READY, Recorder

pytestmark = pytest.mark.browser

LIVE_PAGES = ["status", "individual-task-stream", "individual-progress"]
PLAIN_PAGES = ["info/main/workers.html", "json/counts.json", "individual-plots.json"]


def test_pages_over_tls_use_https(browser, tls_proxy):
    context = browser.new_context(ignore_https_errors=True)
    recorder = Recorder(context, tls_proxy)
    console: list[str] = []
    context.on("console", lambda message: console.append(message.text))
    landed = log_in(context, tls_proxy)
    assert landed == tls_proxy + PREFIX + "info/main/workers.html"

    page = context.new_page()
    recorder.watch(page)
    page.on("console", lambda message: console.append(message.text))
    for path in LIVE_PAGES:
        assert page.goto(tls_proxy + PREFIX + path).status == 200
        page.wait_for_function(BOKEH_READY, timeout=40_000)
    for path in PLAIN_PAGES:
        assert page.goto(tls_proxy + PREFIX + path).status == 200
    page.goto(tls_proxy + PREFIX + "statics/individual-cluster-map.html")
    page.wait_for_function(
        "document.getElementById('status').textContent === 'Live'", timeout=60_000
    )
    page.close()
    context.close()

    assert recorder.errors == []
    assert recorder.aborted == []
    assert recorder.socket_errors == []
    assert len(recorder.sockets) == len(LIVE_PAGES) + 1
    for url in recorder.requests:
        assert url.startswith(tls_proxy + PREFIX), url
    wss_origin = tls_proxy.replace("https", "wss", 1)
    for url in recorder.sockets:
        assert url.startswith(wss_origin + PREFIX), url
    assert [text for text in console if "Mixed Content" in text] == []


def test_redirects_over_tls_stay_https(tls_proxy):
    session = Session(tls_proxy)
    login = session.login(PREFIX, PREFIX + "info/main/workers.html")
    assert login.status == 302
    location = urljoin(login.url, login.header("Location"))
    assert location == tls_proxy + PREFIX + "info/main/workers.html"
    for path in ["/team-a/dask", PREFIX, PREFIX + "info"]:
        response = session.get(path)
        assert response.status == 302, path
        target = urljoin(response.url, response.header("Location"))
        assert urlsplit(target).scheme == "https", target
        assert target.startswith(tls_proxy + PREFIX), target


def test_cookies_over_tls_are_secure(tls_proxy):
    session = Session(tls_proxy)
    login = session.login(PREFIX, PREFIX)
    assert login.status == 302
    cookies = login.set_cookies()
    assert "Secure" in cookies["sessionid"]
    assert "Secure" in cookies["csrftoken"]


def _login_form_cookie(port: int, source: str) -> str:
    session = Session(f"http://127.0.0.1:{port}", source_address=(source, 0))
    form = session.get(
        PREFIX + "accounts/login/", headers={"X-Forwarded-Proto": "https"}
    )
    assert form.status == 200
    return form.set_cookies()["csrftoken"]


def test_forwarded_proto_from_trusted_peer(keep_daphne):
    # 127.0.0.1 is the trusted proxy of this daphne.
    assert "Secure" in _login_form_cookie(keep_daphne, "127.0.0.1")


def test_forwarded_proto_from_untrusted_peer_ignored(keep_daphne):
    assert "Secure" not in _login_form_cookie(keep_daphne, "127.0.0.2")


def test_untrusted_https_origin_fails_csrf(keep_daphne):
    # The peer claims https, but the site still sees http, so a form sent
    # from the https origin is a cross-origin request.
    origin = f"http://127.0.0.1:{keep_daphne}"
    untrusted = Session(origin, source_address=("127.0.0.2", 0))
    claim = {"X-Forwarded-Proto": "https", "Origin": origin.replace("http", "https")}
    response = untrusted.login(PREFIX, PREFIX, headers=claim)
    assert response.status == 403
    trusted = Session(origin, source_address=("127.0.0.1", 0))
    assert trusted.login(PREFIX, PREFIX, headers=claim).status == 302
