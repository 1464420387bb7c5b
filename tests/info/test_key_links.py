"""
Links to awkward task keys from the exceptions page, the task page's
dependency tables and the call-stack pages: each opens the page of the
same key, with ``%20`` for a space.
"""

from __future__ import annotations

import time
from urllib.parse import quote, unquote, urlsplit

import pytest
from distributed import Event
from django.utils.html import escape

from clusterdash.keys import key_to_text

from .conftest import parse_html


def key_shapes(tag: str) -> list:
    """Return keys shaped like those that broke Dask's links, marked ``tag``."""
    return [
        f"{tag} a+b c",
        (f"{tag} x y", 0),
        (f"{tag}-getitem-fused-abc", 0, 1),
        ((f"{tag} nested", 1), 2),
        f"{tag} 50%",
        f"{tag} ?q=1#f",
        f"{tag}-" + "x" * 3000,
    ]


def _fail(i):
    raise ValueError(f"failure {i}")


def _value(i):
    return i


def _sum(*values):
    return sum(values)


def _wait_for_event(name):
    from distributed import Event

    return Event(name).wait(120)


def links_to(response, key) -> list[str]:
    assert response.status_code == 200
    text = key_to_text(key)
    return [href for href, label in parse_html(response.content).links if label == text]


def assert_opens_same_key(client, href, key):
    path = urlsplit(href).path
    assert "+" not in unquote(path) or "%2B" in path, href
    assert "+" not in path, href
    if " " in key_to_text(key) and len(path) < 2000:
        assert "%20" in path, href
    response = client.get(href)
    assert response.status_code == 200, href
    assert escape(key_to_text(key)).encode() in response.content, href


@pytest.mark.parametrize("index", range(7))
def test_exceptions_page_links(staff_client, dask_client, index):
    key = key_shapes("exc")[index]
    future = dask_client.submit(_fail, index, key=key, pure=False)
    dask_client.gather([future], errors="skip")

    hrefs = links_to(staff_client.get("/info/main/exceptions.html"), key)

    assert hrefs
    for href in hrefs:
        assert_opens_same_key(staff_client, href, key)


def test_dependency_tables_link_both_ways(staff_client, dask_client):
    keys = key_shapes("dep")
    sources = [
        dask_client.submit(_value, i, key=key, pure=False) for i, key in enumerate(keys)
    ]
    dependent_key = ("dep dependent a+b", 0)
    dependent = dask_client.submit(_sum, *sources, key=dependent_key, pure=False)
    dependent.result()

    page = staff_client.get(
        f"/info/task/{quote(key_to_text(dependent_key), safe='')}.html"
    )
    for key in keys:
        hrefs = links_to(page, key)
        assert hrefs, key_to_text(key)[:40]
        assert_opens_same_key(staff_client, hrefs[0], key)
        source_page = staff_client.get(hrefs[0])
        back = links_to(source_page, dependent_key)
        assert back, key_to_text(key)[:40]
        assert_opens_same_key(staff_client, back[0], dependent_key)
    del sources, dependent


@pytest.mark.parametrize("index", range(7))
def test_call_stack_pages_link_keys(
    staff_client, dask_client, wait_for_snapshot, index
):
    address = wait_for_snapshot(lambda s: len(s.workers) == 2).workers[0].address
    key = key_shapes("cs")[index]
    # The task runs until the event is set, so it is on the call stack for
    # as long as the test needs and frees its thread right after.
    release = Event(f"key-links-release-{index}", client=dask_client)
    future = dask_client.submit(
        _wait_for_event, release.name, key=key, workers=[address], pure=False
    )
    try:
        path = f"/info/call-stacks/{quote(address, safe='')}.html"
        deadline = time.monotonic() + 15
        while True:
            response = staff_client.get(path)
            hrefs = links_to(response, key)
            if hrefs or time.monotonic() > deadline:
                break
            time.sleep(0.3)

        assert hrefs
        assert_opens_same_key(staff_client, hrefs[0], key)
        task_page = staff_client.get(hrefs[0])
        stack_links = [
            href
            for href, label in parse_html(task_page.content).links
            if label == "Call Stack"
        ]
        assert stack_links
        stack_page = staff_client.get(stack_links[0])
        assert stack_page.status_code == 200
        assert links_to(stack_page, key)
    finally:
        release.set()
        future.result(timeout=30)
