"""The exceptions page: failures grouped with counts, then recent ones."""

from __future__ import annotations

import re
import time

import pytest
from django.utils.html import escape

from clusterdash.keys import key_to_path, key_to_text

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


def _scheduler_knows(key, dask_scheduler=None):
    return key in dask_scheduler.tasks


def test_released_failure_keeps_its_page(staff_client, dask_client):
    key = ("released <b>", 3)
    future = dask_client.submit(_raise_value_error, 11, key=key, pure=False)
    dask_client.gather([future], errors="skip")
    del future
    deadline = time.monotonic() + 30
    while dask_client.run_on_scheduler(_scheduler_knows, key):
        assert time.monotonic() < deadline, "the scheduler kept the released task"
        time.sleep(0.1)

    response = staff_client.get(f"/info/task/{key_to_path(key)}.html")

    content = response.content.decode()
    assert response.status_code == 200
    assert "has released this task" in content
    assert escape(key_to_text(key)) in content
    assert "value error 11" in content
    parse_html(response.content)


def test_unknown_key_is_still_not_found(staff_client, backend):
    response = staff_client.get("/info/task/never-a-key-%28%29.html")

    assert response.status_code == 404


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


def _raise_zero_division(i):
    return i / 0


def _succeed(i):
    return i


@pytest.mark.slow
def test_many_failures_group_into_rows(staff_client, dask_client):
    # 900 failures of three types in three prefixes, then 900 successes:
    # a small stand-in for a run with 200,000 of each.
    count = 300
    failing = []
    for prefix, function in (
        ("many-value", _raise_value_error),
        ("many-key", _raise_key_error),
        ("many-zero", _raise_zero_division),
    ):
        keys = [f"{prefix}-{i}" for i in range(count)]
        failing += dask_client.map(function, range(count), key=keys)
    dask_client.gather(failing, errors="skip")
    succeeding = dask_client.map(
        _succeed, range(3 * count), key=[f"many-ok-{i}" for i in range(3 * count)]
    )
    dask_client.gather(succeeding)
    max_history = dask_client.run_on_scheduler(
        lambda dask_scheduler: dask_scheduler.erred_tasks.maxlen
    )

    response = staff_client.get("/info/main/exceptions.html")

    content = response.content.decode()
    rows = re.findall(
        r"<tr><td>(many-[a-z]+)</td><td>([^<]+)</td>"
        r'<td class="number">(\d+)</td><td class="number">(\d*)</td></tr>',
        content,
    )
    by_prefix = {
        prefix: (kind, int(retained), int(erred))
        for prefix, kind, retained, erred in rows
    }
    assert response.status_code == 200
    assert sorted(by_prefix) == ["many-key", "many-value", "many-zero"]
    assert len(rows) == 3
    for prefix, (_, _, erred) in by_prefix.items():
        assert erred == count, prefix
    # Dask keeps the details of its most recent failures only: the newest
    # type is counted, and the older prefixes show that their details are gone.
    assert max_history is not None
    assert by_prefix["many-zero"][0] == "ZeroDivisionError"
    assert 0 < by_prefix["many-zero"][1] <= max_history
    for prefix, kind in (("many-value", "ValueError"), ("many-key", "KeyError")):
        assert by_prefix[prefix][0] in (kind, "(details not retained)"), prefix
    assert sum(retained for _, retained, _ in by_prefix.values()) <= max_history
    assert content.count('<section class="module failure">') <= max_history
    del failing, succeeding
