"""The cluster-map page in Debian's chromium, fed by a real daphne."""

from __future__ import annotations

import shutil
import threading

import pytest

from tests.live import login_browser
from tests.metrics.daphne_server import daphne

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE_KEYS = ["<img src=x onerror=alert(1)>", '"><svg onload=alert(3)>']


def test_map_draws_workers_and_literal_keys(cluster, dask_client, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium (Debian package) is not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    stop = threading.Event()

    def work():
        round_ = 0
        while not stop.is_set():
            keys = [(text, round_) for text in HOSTILE_KEYS]
            dask_client.gather(dask_client.map(len, HOSTILE_KEYS, key=keys))
            round_ += 1
            stop.wait(0.3)

    with daphne(cluster.scheduler_address, tmp_path) as port:
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        try:
            with playwright.sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox"]
                )
                context = browser.new_context()
                login_browser(context, f"http://127.0.0.1:{port}", "viewer")
                page = context.new_page()
                dialogs = []
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))
                page.goto(
                    f"http://127.0.0.1:{port}/statics/individual-cluster-map.html"
                )
                page.wait_for_function(
                    "document.querySelectorAll('#recent li').length >= 2",
                    timeout=45_000,
                )
                workers = page.locator("circle.worker").count()
                status = page.locator("#status").text_content()
                recent = page.locator("#recent li").all_text_contents()
                injected = page.locator("#recent img, #recent svg").count()
                browser.close()
        finally:
            stop.set()
            worker.join(10)
    assert workers == len(cluster.scheduler_info["workers"])
    assert status == "Live"
    assert dialogs == []
    assert injected == 0
    assert any(HOSTILE_KEYS[0] in text for text in recent)
