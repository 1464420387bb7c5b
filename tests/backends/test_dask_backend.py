"""The Dask backend against a real LocalCluster."""

from __future__ import annotations

import pytest
from distributed import Event

from clusterdash.backends import TaskNotFound, WorkerNotFound
from clusterdash.backends.types import COUNT_FIELDS

pytestmark = pytest.mark.django_db


def test_snapshot_lists_workers(backend, cluster):
    snapshot = backend.snapshot()
    addresses = {w.address for w in snapshot.workers}
    assert addresses == set(cluster.scheduler_info["workers"])
    assert list(snapshot.counts) == list(COUNT_FIELDS)
    assert snapshot.counts["workers"] == 2


def test_snapshot_counts_tasks_by_prefix(backend, dask_client, wait_for_snapshot):
    futures = dask_client.map(
        lambda x: x + 1, range(10), key=[f"incr-{i}" for i in range(10)]
    )
    dask_client.gather(futures)
    snapshot = wait_for_snapshot(
        lambda s: any(
            p.name == "incr" and p.states.get("memory") == 10 for p in s.prefixes
        )
    )
    assert snapshot.task_states["memory"] >= 10
    del futures


def test_task_detail_and_worker_detail(backend, dask_client):
    future = dask_client.submit(lambda: 41 + 1, key=("answer x", 0))
    assert future.result() == 42
    detail = backend.task_detail(("answer x", 0))
    assert detail.state == "memory"
    assert detail.nbytes == 28
    assert detail.type == "int"
    assert len(detail.who_has) == 1
    worker = backend.worker_detail(detail.who_has[0])
    assert ("answer x", 0) in [held.key for held in worker.held]
    with pytest.raises(TaskNotFound):
        backend.task_detail("no-such-key")
    with pytest.raises(WorkerNotFound):
        backend.worker_detail("tcp://127.0.0.1:1")


def test_call_stacks_of_running_task(backend, dask_client):
    event = Event("release-stack", client=dask_client)

    def blocked(name):
        from distributed import Event

        Event(name).wait()
        return 1

    future = dask_client.submit(blocked, "release-stack", key="blocked-stack")
    try:
        import time

        deadline = time.monotonic() + 10
        stacks = []
        while not stacks and time.monotonic() < deadline:
            try:
                stacks = backend.task_call_stacks("blocked-stack")
            except TaskNotFound:
                pass  # the submission has not reached the scheduler yet
            time.sleep(0.1)
        assert stacks
        assert stacks[0].key == "blocked-stack"
        assert any("blocked" in frame.text for frame in stacks[0].frames)
    finally:
        event.set()
        future.result()


def test_worker_logs_and_scheduler_logs(backend, cluster):
    address = next(iter(cluster.scheduler_info["workers"]))
    page = backend.worker_logs(address)
    assert page.total >= 1
    assert page.records
    with pytest.raises(WorkerNotFound):
        backend.worker_logs("tcp://127.0.0.1:1")
    assert backend.scheduler_logs().total >= 1
