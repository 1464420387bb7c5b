"""The scheduler's and a worker's log pages: capped, paged, staff only."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from .conftest import parse_html


def _log_many_lines(count):
    import logging

    logger = logging.getLogger("distributed.worker")
    for i in range(count):
        logger.warning("log line %05d <b>marked</b> %s", i, "x" * 200)


@pytest.fixture
def address(wait_for_snapshot):
    """Return the address of the first session worker."""
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    return snapshot.workers[0].address


def test_scheduler_log_page_renders(staff_client, address):
    response = staff_client.get("/info/main/logs.html")

    assert response.status_code == 200
    assert b"Scheduler logs" in response.content
    assert b"Newest first" in response.content
    parse_html(response.content)


def test_worker_log_is_capped_with_left_out_notice(
    staff_client, dask_client, address, settings
):
    settings.CLUSTERDASH_LOG_PAGE_BYTES = 5_000
    dask_client.run(_log_many_lines, 500, workers=[address])
    path = f"/info/logs/{quote(address, safe='')}.html"

    response = staff_client.get(path)

    content = response.content.decode()
    assert response.status_code == 200
    assert "left out" in content
    assert "Older records" in content
    assert "log line 00499" in content
    assert "log line 00000" not in content
    assert "&lt;b&gt;marked&lt;/b&gt;" in content
    assert "<b>marked" not in content
    assert len(response.content) < 40_000
    parse_html(response.content)


def _log_control_characters():
    import logging

    logging.getLogger("distributed.worker").warning("bytes \x00 and \x1b[1mbold")


def test_worker_log_shows_control_characters_escaped(
    staff_client, dask_client, address
):
    dask_client.run(_log_control_characters, workers=[address])

    response = staff_client.get(f"/info/logs/{quote(address, safe='')}.html")

    assert response.status_code == 200
    assert rb"bytes \x00 and \x1b[1mbold" in response.content
    assert not set(response.content) & {0x00, 0x1B}


def test_worker_log_older_page_follows(staff_client, dask_client, address, settings):
    settings.CLUSTERDASH_LOG_PAGE_BYTES = 5_000
    dask_client.run(_log_many_lines, 100, workers=[address])
    path = f"/info/logs/{quote(address, safe='')}.html"
    first = staff_client.get(path)
    older = [
        href
        for href, label in parse_html(first.content).links
        if label == "Older records"
    ]

    response = staff_client.get(path + older[0])

    assert response.status_code == 200
    assert b"Newer records" in response.content
    assert b"Showing records 1 " not in response.content


def test_log_pages_redirect_anonymous(client, address):
    for path in ("/info/main/logs.html", f"/info/logs/{quote(address, safe='')}.html"):
        response = client.get(path)

        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_log_pages_forbid_non_staff(viewer_client, address):
    response = viewer_client.get(f"/info/logs/{quote(address, safe='')}.html")

    assert response.status_code == 403


def test_log_page_of_unknown_worker_is_404(staff_client, address):
    response = staff_client.get("/info/logs/tcp%3A%2F%2F127.0.0.1%3A1.html")

    assert response.status_code == 404
    assert b"tcp://127.0.0.1:1" in response.content


def test_log_pages_open_when_staff_only_is_off(viewer_client, address, settings):
    settings.CLUSTERDASH_STAFF_ONLY = False

    response = viewer_client.get("/info/main/logs.html")

    assert response.status_code == 200


def _log_huge(count, line_bytes, last_line_bytes):
    import logging

    logger = logging.getLogger("distributed.worker")
    for i in range(count):
        logger.warning("wide line %05d %s", i, "w" * line_bytes)
    logger.warning("huge line %s", "h" * last_line_bytes)


@pytest.mark.slow
def test_huge_worker_log_is_bounded(staff_client, dask_client, address, settings):
    # 2,000 lines of 5 kB and one 1 MB line: about 11 MB of log text, which
    # the worker's default log ring of 10,000 records keeps in full.
    dask_client.run(_log_huge, 2000, 5000, 1_000_000, workers=[address])
    path = f"/info/logs/{quote(address, safe='')}.html"

    started = time.monotonic()
    response = staff_client.get(path)
    elapsed = time.monotonic() - started

    content = response.content.decode()
    assert response.status_code == 200
    assert elapsed < 20
    assert len(response.content) < settings.CLUSTERDASH_LOG_PAGE_BYTES + 200_000
    # Newest first: the huge line, cut, comes before the wide lines.
    assert content.index("huge line") < content.index("wide line 01999")
    assert "wide line 00000" not in content
    assert "1 long line left out in part" in content
    assert "left out, because one page shows at most" in content
    assert "Older records" in content
    parse_html(response.content)
