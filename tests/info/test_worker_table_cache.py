"""The workers page's table, cached per snapshot, and what it must not share."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import quote

import pytest
from django.test import Client, override_settings
from django.urls import set_script_prefix

from info.views import main

from .conftest import parse_html

TABLE = re.compile(r'<div class="table-scroll">.*?</div>', re.S)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HOSTILE_NAME = '<script>alert("name")</script>'
HOSTILE_ADDRESS = 'tcp://127.0.0.1:1/"><img src=x>'


class PinnedSnapshot:
    """A stand-in for ``get_snapshot`` that returns one chosen real snapshot."""

    def __init__(self, snapshot):
        self.snapshot = snapshot

    async def __call__(self):
        return self.snapshot


@pytest.fixture
def pinned(monkeypatch, wait_for_snapshot):
    """Make the workers page read one real snapshot, which a test may replace."""
    pin = PinnedSnapshot(wait_for_snapshot(lambda s: len(s.workers) == 2))
    monkeypatch.setattr(main, "get_snapshot", pin)
    main.worker_tables.clear()
    yield pin
    main.worker_tables.clear()


@pytest.fixture
def render_count(monkeypatch):
    """Count the worker tables that the workers view renders."""
    calls = []
    render = main.render_worker_table

    def counting_render(*args, **kwargs):
        calls.append(kwargs.get("request"))
        return render(*args, **kwargs)

    monkeypatch.setattr(main, "render_worker_table", counting_render)
    return calls


def _table(response) -> str:
    return TABLE.search(response.content.decode())[0]


def _worker_hrefs(response):
    return [
        href
        for href, _ in parse_html(response.content).links
        if href and href.startswith("/info/worker/")
    ]


def _with_worker(snapshot, address, name):
    """Return a new snapshot of the same cluster with one more worker."""
    extra = dataclasses.replace(snapshot.workers[0], address=address, name=name)
    return dataclasses.replace(snapshot, workers=(*snapshot.workers, extra))


def test_table_renders_once_per_query(viewer_client, pinned, render_count):
    first = viewer_client.get("/info/main/workers.html?sort=name")
    again = viewer_client.get("/info/main/workers.html?sort=name")
    other = viewer_client.get("/info/main/workers.html?sort=name&order=desc")

    assert len(render_count) == 2
    assert _table(first) == _table(again)
    assert _table(first) != _table(other)


@override_settings(CLUSTERDASH_PAGE_SIZE=1)
def test_cached_table_follows_page(viewer_client, pinned):
    first = viewer_client.get("/info/main/workers.html")
    second = viewer_client.get("/info/main/workers.html?page=2")
    first_again = viewer_client.get("/info/main/workers.html?page=1")

    assert len(_worker_hrefs(first)) == 1
    assert len(_worker_hrefs(second)) == 1
    assert _worker_hrefs(first) != _worker_hrefs(second)
    assert _worker_hrefs(first_again) == _worker_hrefs(first)
    assert b"Page 2 of 2" in second.content


def test_cached_table_follows_sort_order(viewer_client, pinned):
    ascending = viewer_client.get("/info/main/workers.html?sort=name&order=asc")
    descending = viewer_client.get("/info/main/workers.html?sort=name&order=desc")

    assert _worker_hrefs(ascending) == list(reversed(_worker_hrefs(descending)))
    assert "?sort=name&amp;order=desc" in _table(ascending)
    assert "?sort=name&amp;order=asc" in _table(descending)


def test_cached_table_follows_search(viewer_client, pinned):
    address = pinned.snapshot.workers[1].address
    port = address.rsplit(":", 1)[1]

    everyone = viewer_client.get("/info/main/workers.html")
    found = viewer_client.get(f"/info/main/workers.html?q={port}")

    assert len(_worker_hrefs(everyone)) == 2
    assert len(_worker_hrefs(found)) == 1
    assert f"q={port}" in _table(found)


def test_cached_table_follows_script_prefix(viewer_client, pinned):
    segment = quote(pinned.snapshot.workers[0].address, safe="")

    plain = viewer_client.get("/info/main/workers.html")
    # The test client's handler does not set the script prefix itself.
    set_script_prefix("/team-a/")
    try:
        prefixed = viewer_client.get("/info/main/workers.html")
    finally:
        set_script_prefix("/")

    assert f'href="/info/worker/{segment}.html"' in _table(plain)
    assert f'href="/team-a/info/worker/{segment}.html"' in _table(prefixed)
    assert f'href="/info/worker/{segment}.html"' not in _table(prefixed)


def test_new_snapshot_shows_new_worker(viewer_client, pinned):
    before = viewer_client.get("/info/main/workers.html")
    pinned.snapshot = _with_worker(pinned.snapshot, HOSTILE_ADDRESS, HOSTILE_NAME)

    after = viewer_client.get("/info/main/workers.html")

    assert len(_worker_hrefs(before)) == 2
    assert len(_worker_hrefs(after)) == 3
    assert b"(3 in the cluster)" in after.content
    table = _table(after)
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in table
    assert "<script>" not in table
    assert "<img" not in table
    assert "tcp://127.0.0.1:1/&quot;&gt;&lt;img src=x&gt;" in table
    assert "/info/worker/tcp%3A%2F%2F127.0.0.1%3A1%2F%22%3E%3Cimg" in table
    parse_html(after.content)


def test_new_snapshot_drops_removed_worker(viewer_client, pinned):
    removed = pinned.snapshot.workers[1]
    viewer_client.get("/info/main/workers.html")
    pinned.snapshot = dataclasses.replace(
        pinned.snapshot, workers=pinned.snapshot.workers[:1]
    )

    after = viewer_client.get("/info/main/workers.html")

    assert removed.address not in _table(after)
    assert len(_worker_hrefs(after)) == 1


def test_ages_count_from_snapshot_time(viewer_client, pinned):
    newest = max(w.last_seen for w in pinned.snapshot.workers)
    pinned.snapshot = dataclasses.replace(
        pinned.snapshot, taken_at=newest + main.STALE_AFTER + 60
    )

    response = viewer_client.get("/info/main/workers.html")

    assert _table(response).count('<tr class="stale">') == 2


def test_users_share_table_but_not_csrf(pinned, plain_user, staff_user):
    viewer = Client(enforce_csrf_checks=True)
    viewer.force_login(plain_user)
    operator = Client(enforce_csrf_checks=True)
    operator.force_login(staff_user)

    viewer_page = viewer.get("/info/main/workers.html")
    operator_page = operator.get("/info/main/workers.html")

    assert _table(viewer_page) == _table(operator_page)
    assert b"Logged in as <strong>viewer</strong>" in viewer_page.content
    assert b"Logged in as <strong>operator</strong>" in operator_page.content
    viewer_token = CSRF_INPUT.search(viewer_page.content.decode())[1]
    operator_token = CSRF_INPUT.search(operator_page.content.decode())[1]
    # A token from another user's page must fail the CSRF check, and the
    # user's own token must pass it.
    crossed = viewer.post("/accounts/logout/", {"csrfmiddlewaretoken": operator_token})
    assert crossed.status_code == 403
    own = viewer.post("/accounts/logout/", {"csrfmiddlewaretoken": viewer_token})
    assert own.status_code == 302


def test_fragment_cache_keeps_max_entries():
    cache = main.SnapshotFragments(maxsize=2)
    snapshot = object()
    renders = []

    def render(text):
        def build():
            renders.append(text)
            return text

        return build

    for key in ("a", "b", "c", "a"):
        cache.get(snapshot, key, render(key))

    assert renders == ["a", "b", "c", "a"]
    assert cache.get(snapshot, "c", render("c")) == "c"
    assert renders == ["a", "b", "c", "a"]


def test_fragment_cache_drops_old_snapshot():
    cache = main.SnapshotFragments(maxsize=4)
    old, new = object(), object()

    assert cache.get(old, "page", lambda: "old table") == "old table"
    assert cache.get(new, "page", lambda: "new table") == "new table"
    assert cache.get(old, "page", lambda: "old again") == "old again"
