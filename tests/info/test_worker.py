"""The page of one worker, reached by every address form Dask accepts."""

from __future__ import annotations

import time
from urllib.parse import quote, quote_plus

import pytest
from distributed import Client

from .conftest import parse_html


@pytest.fixture
def address(wait_for_snapshot):
    """Return the address of the first session worker."""
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    return snapshot.workers[0].address


def _address_forms(address):
    single = quote(address, safe="")
    return {
        "raw": address,
        "single": single,
        "double": quote(single, safe=""),
        "plus": quote(quote_plus(address, safe=""), safe=""),
    }


@pytest.mark.parametrize("form", ["raw", "single", "double", "plus"])
def test_worker_page_accepts_address_form(viewer_client, address, form):
    path = f"/info/worker/{_address_forms(address)[form]}.html"

    response = viewer_client.get(path)

    assert response.status_code == 200
    assert f"Worker: {address}".encode() in response.content
    parse_html(response.content)


def _hold(i):
    return list(range(i))


def test_worker_page_pages_held_keys(viewer_client, cluster, address, settings):
    settings.CLUSTERDASH_PAGE_SIZE = 5
    with Client(cluster, set_as_default=False) as dask_client:
        futures = [
            dask_client.submit(_hold, i, key=f"held-{i:02d}", workers=[address])
            for i in range(12)
        ]
        dask_client.gather(futures)

        first = viewer_client.get(f"/info/worker/{quote(address, safe='')}.html")
        third = viewer_client.get(f"/info/worker/{quote(address, safe='')}.html?page=3")

        dask_client.cancel(futures)
    first_keys = [h for h, _ in parse_html(first.content).links if "/info/task/" in h]
    third_keys = [h for h, _ in parse_html(third.content).links if "/info/task/" in h]
    assert len(first_keys) == 5
    assert 1 <= len(third_keys) <= 5
    assert b"12 keys held" in first.content
    assert b"page 1 of 3" in first.content


def test_worker_page_links_logs_and_call_stacks(viewer_client, address):
    response = viewer_client.get(f"/info/worker/{quote(address, safe='')}.html")

    hrefs = [href for href, _ in parse_html(response.content).links]
    segment = quote(address, safe="")
    assert f"/info/logs/{segment}.html" in hrefs
    assert f"/info/call-stacks/{segment}.html" in hrefs


def test_unknown_worker_is_404_naming_it(viewer_client, address):
    started = time.monotonic()
    response = viewer_client.get("/info/worker/tcp%3A%2F%2F127.0.0.1%3A1%3Cb%3E.html")
    elapsed = time.monotonic() - started

    assert response.status_code == 404
    assert b"tcp://127.0.0.1:1&lt;b&gt;" in response.content
    assert b"It may have left the cluster" in response.content
    assert b'href="/info/main/workers.html"' in response.content
    # Loose bound: membership is checked in the snapshot before any RPC.
    assert elapsed < 5
