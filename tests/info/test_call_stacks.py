"""The call-stack pages of a worker and of a task."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from .conftest import parse_html


def _sleep_marker(seconds):
    import time

    time.sleep(seconds)
    return seconds


@pytest.fixture
def address(wait_for_snapshot):
    """Return the address of the first session worker."""
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    return snapshot.workers[0].address


def test_worker_call_stacks_show_running_task(staff_client, dask_client, address):
    future = dask_client.submit(
        _sleep_marker, 5, key="sleeping <task>", workers=[address], pure=False
    )
    path = f"/info/call-stacks/{quote(address, safe='')}.html"
    deadline = time.monotonic() + 10
    while True:
        response = staff_client.get(path)
        if b"_sleep_marker" in response.content or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    assert response.status_code == 200
    assert b"_sleep_marker" in response.content
    assert b"sleeping &lt;task&gt;" in response.content
    parse_html(response.content)
    dask_client.cancel(future)


def test_task_call_stack_of_finished_task(staff_client, dask_client, address):
    future = dask_client.submit(_sleep_marker, 0, key="finished-task", pure=False)
    future.result()

    response = staff_client.get("/info/call-stack/finished-task.html")

    assert response.status_code == 200
    assert b"Task not actively running" in response.content
    parse_html(response.content)


def test_call_stack_pages_need_staff(client, address):
    worker_path = f"/info/call-stacks/{quote(address, safe='')}.html"

    for path in (worker_path, "/info/call-stack/any-key.html"):
        response = client.get(path)

        assert response.status_code == 302


def test_call_stacks_of_unknown_worker_is_404(staff_client, address):
    response = staff_client.get("/info/call-stacks/tcp%3A%2F%2F127.0.0.1%3A1.html")

    assert response.status_code == 404


def test_call_stack_of_unknown_key_is_404(staff_client, address):
    response = staff_client.get("/info/call-stack/no-such-key.html")

    assert response.status_code == 404
    assert b"no-such-key" in response.content
