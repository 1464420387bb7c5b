"""A proxy that drops websocket upgrades: a notice, backed-off retries."""

from __future__ import annotations

import time

import pytest

from .client import Session
from .conftest import log_in
from .servers import PREFIX

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Seconds each live page stays open, as a user would leave a tab.
OPEN_FOR = 60

#: Websocket attempts one page may make in OPEN_FOR seconds.
MAX_ATTEMPTS = 10

BOKEH_NOTICE = ".live-notice"
MAP_NOTICE = "#status.error"
PAGES = {
    "status": BOKEH_NOTICE,
    "individual-task-stream": BOKEH_NOTICE,
    "statics/individual-cluster-map.html": MAP_NOTICE,
}


def test_live_pages_explain_failure(browser, no_upgrade_proxy):
    context = browser.new_context()
    log_in(context, no_upgrade_proxy)
    attempts: dict[str, int] = {}
    pages = {}
    started = time.monotonic()
    for path in PAGES:
        page = context.new_page()
        attempts[path] = 0

        def count(socket, path=path):
            attempts[path] += 1

        page.on("websocket", count)
        page.goto(no_upgrade_proxy + PREFIX + path)
        pages[path] = page

    for path, selector in PAGES.items():
        notice = pages[path].locator(selector)
        # 5 s from its own load, and the pages load one after the other.
        notice.wait_for(state="visible", timeout=5_000 + 5_000 * len(pages))
        text = notice.text_content()
        assert "could not connect" in text, (path, text)
        assert "docs/deployment.md" in text, (path, text)
        assert "Upgrade" in text, (path, text)

    remaining = OPEN_FOR - (time.monotonic() - started)
    if remaining > 0:
        pages["status"].wait_for_timeout(remaining * 1000)
    for path, selector in PAGES.items():
        assert 1 <= attempts[path] <= MAX_ATTEMPTS, (path, attempts[path])
        assert pages[path].locator(selector).is_visible(), path
    context.close()


def test_plain_http_works_without_upgrade(no_upgrade_proxy):
    session = Session(no_upgrade_proxy)
    assert session.login(PREFIX, PREFIX).status == 302
    for path in [
        "info/main/workers.html",
        "info/main/exceptions.html",
        "json/counts.json",
        "json/identity.json",
        "individual-plots.json",
        "sitemap.json",
        "metrics",
        "health",
    ]:
        response = session.get(PREFIX + path)
        assert response.status == 200, (path, response.status)
