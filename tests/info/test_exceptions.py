"""The exceptions page: failures grouped with counts, then recent ones."""

from __future__ import annotations

from django.utils.html import escape

from clusterdash.keys import key_to_text

from .conftest import parse_html


def _raise_value_error(i):
    raise ValueError(f"value error {i}")


def _raise_key_error(i):
    raise KeyError(f"<missing {i}>")


def test_exceptions_page_groups_by_prefix_and_type(staff_client, dask_client):
    futures = [
        dask_client.submit(_raise_value_error, i, key=f"boom-{i}", pure=False)
        for i in range(3)
    ]
    futures.append(
        dask_client.submit(_raise_key_error, 0, key=("keyfail <b>", 0), pure=False)
    )
    dask_client.gather(futures, errors="skip")

    response = staff_client.get("/info/main/exceptions.html")

    content = response.content.decode()
    assert response.status_code == 200
    assert "<td>boom</td><td>ValueError</td>" in content
    assert "<td>keyfail &lt;b&gt;</td><td>KeyError</td>" in content
    assert "value error 2" in content
    assert "<summary>Traceback</summary>" in content
    parse_html(response.content)


def test_exception_links_open_task_pages(staff_client, dask_client, page_links):
    key = ("exc link key", 1)
    future = dask_client.submit(_raise_value_error, 7, key=key, pure=False)
    dask_client.gather([future], errors="skip")
    response = staff_client.get("/info/main/exceptions.html")
    hrefs = [href for href, label in page_links(response) if label == key_to_text(key)]

    task_page = staff_client.get(hrefs[0])

    assert task_page.status_code == 200
    assert escape(key_to_text(key)).encode() in task_page.content
    assert b"value error 7" in task_page.content


def test_exceptions_page_is_paged(staff_client, dask_client, settings):
    settings.CLUSTERDASH_PAGE_SIZE = 2
    futures = [
        dask_client.submit(_raise_value_error, i, key=f"paged-{i}", pure=False)
        for i in range(5)
    ]
    dask_client.gather(futures, errors="skip")

    response = staff_client.get("/info/main/exceptions.html")

    assert response.content.count(b'<section class="module failure">') == 2
    assert b"page=2" in response.content
