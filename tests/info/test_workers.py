"""The workers page: Dask's columns, paging, sorting and search."""

from __future__ import annotations

import dataclasses
import time

import pytest
from django.test import override_settings

from info.views.main import worker_rows

from .conftest import parse_html

COLUMNS = [
    "Worker",
    "Name",
    "Cores",
    "Memory",
    "Memory use",
    "Occupancy",
    "Processing",
    "In-memory",
    "Services",
    "Logs",
    "Last seen",
]


@pytest.fixture
def two_workers(wait_for_snapshot):
    """Return the snapshot once both session workers are in it."""
    return wait_for_snapshot(lambda s: len(s.workers) == 2)


def _worker_hrefs(response):
    return [
        href
        for href, _ in parse_html(response.content).links
        if href and href.startswith("/info/worker/")
    ]


def test_workers_page_lists_both_workers(viewer_client, two_workers):
    response = viewer_client.get("/info/main/workers.html")

    assert response.status_code == 200
    content = response.content.decode()
    assert f"Scheduler {two_workers.scheduler.address}" in content
    for worker in two_workers.workers:
        assert worker.address in content
    parse_html(response.content)


def test_workers_page_has_dask_columns_in_order(viewer_client, two_workers):
    response = viewer_client.get("/info/main/workers.html")

    content = response.content.decode()
    header = content[content.index("<thead>") : content.index("</thead>")]
    positions = [header.index(f">{label}<") for label in COLUMNS]
    assert positions == sorted(positions)


def test_worker_links_are_quoted_once(viewer_client, two_workers):
    response = viewer_client.get("/info/main/workers.html")

    hrefs = _worker_hrefs(response)
    address = two_workers.workers[0].address
    assert (
        f"/info/worker/{address.replace(':', '%3A').replace('/', '%2F')}.html" in hrefs
    )
    assert not any("%25" in href for href in hrefs)


@override_settings(CLUSTERDASH_PAGE_SIZE=1)
def test_workers_page_is_paged(viewer_client, two_workers):
    first = viewer_client.get("/info/main/workers.html")
    second = viewer_client.get("/info/main/workers.html?page=2")

    first_workers = set(_worker_hrefs(first))
    second_workers = set(_worker_hrefs(second))
    assert len(first_workers) == 1
    assert len(second_workers) == 1
    assert first_workers != second_workers
    assert b"Page 1 of 2" in first.content
    assert b"page=2" in first.content


def test_workers_page_sorts_by_name_descending(client, two_workers):
    ascending = client.get("/info/main/workers.html?sort=name&order=asc")
    descending = client.get("/info/main/workers.html?sort=name&order=desc")

    assert _worker_hrefs(ascending) == list(reversed(_worker_hrefs(descending)))


def test_workers_page_searches_address(viewer_client, two_workers):
    address = two_workers.workers[1].address
    port = address.rsplit(":", 1)[1]

    response = viewer_client.get(f"/info/main/workers.html?q={port}")

    hrefs = _worker_hrefs(response)
    assert len(hrefs) == 1
    assert port in hrefs[0]


def test_workers_page_ignores_bad_query(viewer_client, two_workers):
    response = viewer_client.get("/info/main/workers.html?page=x&sort=nonsense&order=1")

    assert response.status_code == 200


def test_stale_worker_row_is_flagged(two_workers):
    now = time.time()
    fresh = two_workers.workers[0]
    stale = dataclasses.replace(fresh, last_seen=now - 120)

    rows = worker_rows([fresh, stale], now)

    assert rows[0]["stale"] is False
    assert rows[1]["stale"] is True


def test_dashboard_links_open_for_viewers(viewer_client, two_workers):
    response = viewer_client.get("/info/main/workers.html")

    hrefs = [
        href for href, text in parse_html(response.content).links if text == "dashboard"
    ]
    assert len(hrefs) == len(two_workers.workers)
    for href in hrefs:
        assert href.startswith("/workers/"), href
        assert viewer_client.get(href).status_code == 200, href
