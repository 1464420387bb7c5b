"""The embedded backend: its own LocalCluster, the demo workload, clean exit."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from distributed import Client

from clusterdash.backends import SchedulerUnavailable
from clusterdash.backends.dask import EmbeddedBackend

pytestmark = pytest.mark.slow


def _children():
    return {child.pid: child for child in psutil.Process().children(recursive=True)}


def _wait_for(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except SchedulerUnavailable:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.2)


def _ignores_interrupt():
    import signal

    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_embedded_cluster_serves_and_exits():
    before = _children()
    backend = EmbeddedBackend(
        {"n_workers": 1, "threads_per_worker": 1, "poll_interval": 0.2}
    )
    try:
        assert "not started" in backend.address
        cluster = backend.cluster()
        assert backend.address == cluster.scheduler_address
        assert backend.address.startswith("tcp://127.0.0.1:")

        snapshot = _wait_for(
            lambda: backend.snapshot().counts["workers"] == 1 and backend.snapshot(),
            timeout=30,
            message="the embedded worker did not appear in the snapshot",
        )
        assert snapshot.scheduler.address == backend.address
        assert len(snapshot.workers) == 1

        started = set(_children()) - set(before)
        assert started, "the embedded cluster started no worker process"

        # Ctrl-C in a terminal reaches the worker processes too; they
        # leave shutting down to the dashboard.
        for pid in started:
            os.kill(pid, signal.SIGINT)
        time.sleep(2)
        assert all(psutil.pid_exists(pid) for pid in started)
        with Client(backend.address, set_as_default=False) as client:
            answers = client.run(_ignores_interrupt)
        assert list(answers.values()) == [True]
    finally:
        backend.close()

    def gone():
        return not (set(_children()) - set(before))

    _wait_for(gone, timeout=20, message="worker processes outlived close()")
    with pytest.raises(SchedulerUnavailable):
        backend.cluster()


def test_close_twice_is_safe():
    backend = EmbeddedBackend({"n_workers": 1, "processes": False})
    backend.cluster()
    backend.close()
    backend.close()


def _prefix_names(backend):
    return {prefix.name for prefix in backend.snapshot().prefixes}


def test_demo_workload_runs_and_stops():
    backend = EmbeddedBackend(
        {"n_workers": 2, "threads_per_worker": 2, "poll_interval": 0.2, "demo": True}
    )
    try:
        backend.cluster()
        demo = backend._demo
        assert demo is not None
        assert demo.running

        def first_rounds_done():
            return demo.rounds >= 3 and backend.snapshot().counts["erred"] >= 3

        _wait_for(first_rounds_done, timeout=90, message="no demo rounds finished")
        names = _prefix_names(backend)
        for expected in ("odd key", "space key", "a+b", "100% done", "nested"):
            assert expected in names
        assert any(name.startswith("ключ") for name in names)
        assert any(name.startswith("random_sample") for name in names)
        erred = backend.erred_tasks()
        exception_texts = " ".join(task.exception_text for task in erred)
        for kind in ("ValueError", "ZeroDivisionError", "KeyError"):
            assert kind in exception_texts

        # Later rounds reuse the same prefixes, so the scheduler's per-prefix
        # state stays bounded however long the demo runs.
        rounds = demo.rounds
        _wait_for(lambda: demo.rounds >= rounds + 2, 90, "the demo stalled")
        assert _prefix_names(backend) == names
    finally:
        backend.close()
    assert not demo.running
    assert backend._demo is None


def test_dataframe_work_beside_twisted():
    # daphne imports Twisted, whose pickle reducer for bound methods made
    # workers of the embedded cluster fail to load dask.dataframe tasks.
    import copyreg
    import types

    import daphne.server  # noqa: F401
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client
    from twisted.persisted import styles

    copyreg.pickle(types.MethodType, styles.pickleMethod)
    backend = EmbeddedBackend({"n_workers": 1, "threads_per_worker": 1})
    try:
        cluster = backend.cluster()
        assert types.MethodType not in copyreg.dispatch_table
        frame = dd.from_pandas(pd.DataFrame({"x": range(100)}), npartitions=4)
        with Client(cluster, set_as_default=False) as client:
            total = client.compute(frame.x.sum()).result(timeout=60)
        assert total == sum(range(100))
    finally:
        backend.close()
