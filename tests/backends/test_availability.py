"""The Dask backend when the scheduler is missing, silent or restarted."""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time

import pytest
from distributed import LocalCluster

from clusterdash.backends import SchedulerUnavailable
from clusterdash.backends.dask import DaskBackend

# Servers that these tests start listen on ports from this range.
PORT_RANGE = range(8420, 8499)


def _free_ports(count):
    ports = []
    for port in random.sample(PORT_RANGE, len(PORT_RANGE)):
        with contextlib.closing(socket.socket()) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == count:
            return ports
    pytest.fail(f"no {count} free ports in {PORT_RANGE}")


def _scheduler_only_cluster(port, dashboard_port):
    return LocalCluster(
        n_workers=0,
        processes=False,
        host="127.0.0.1",
        scheduler_port=port,
        dashboard_address=f"127.0.0.1:{dashboard_port}",
        silence_logs=logging.ERROR,
    )


def _wait_for(function, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return function()
        except (SchedulerUnavailable, AssertionError):
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def test_refused_connection_names_address():
    (port,) = _free_ports(1)
    address = f"tcp://127.0.0.1:{port}"
    backend = DaskBackend({"address": address, "timeout": 1.0})
    try:
        started = time.monotonic()
        with pytest.raises(SchedulerUnavailable) as raised:
            backend.snapshot()
        elapsed = time.monotonic() - started
    finally:
        backend.close()
    assert raised.value.address == address
    assert address in str(raised.value)
    # A bound on waiting, not a speed check: timeout plus the first-read
    # grace of one second, with slack for a loaded machine.
    assert elapsed < 10


def _silent_listener(port):
    # A socket that accepts TCP connections but never speaks, like a frozen
    # scheduler. Closing it resets the waiting connections.
    silent = socket.socket()
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.1", port))
    silent.listen(16)
    return silent


def _call_in_thread(function, timeout):
    """Call ``function`` in a daemon thread; return (finished, outcome)."""
    outcome = []

    def call():
        try:
            outcome.append(function())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), outcome[0] if outcome else None


def test_silent_scheduler_snapshot_unavailable():
    (port,) = _free_ports(1)
    address = f"tcp://127.0.0.1:{port}"
    backend = DaskBackend({"address": address, "timeout": 1.0})
    with contextlib.closing(_silent_listener(port)):
        finished, outcome = _call_in_thread(backend.snapshot, timeout=10)
    backend.close()
    assert finished
    assert isinstance(outcome, SchedulerUnavailable)
    assert outcome.address == address


# distributed 2026.8's connect() does not bound the handshake by its
# timeout, so the backend must bound the client's whole start itself.
def test_silent_scheduler_detail_bounded():
    (port,) = _free_ports(1)
    address = f"tcp://127.0.0.1:{port}"
    backend = DaskBackend({"address": address, "timeout": 1.0})
    with contextlib.closing(_silent_listener(port)):
        finished, outcome = _call_in_thread(
            lambda: backend.task_detail("any-key"), timeout=10
        )
    backend.close()
    assert finished
    assert isinstance(outcome, SchedulerUnavailable)


def test_empty_address_is_unavailable():
    backend = DaskBackend({"address": "", "timeout": 1.0})
    try:
        with pytest.raises(SchedulerUnavailable, match="no scheduler address"):
            backend.snapshot()
    finally:
        backend.close()


@pytest.mark.slow
def test_backend_recovers_after_restart():
    port, dashboard_port = _free_ports(2)
    address = f"tcp://127.0.0.1:{port}"
    backend = DaskBackend(
        {"address": address, "poll_interval": 0.2, "timeout": 1.0, "idle_after": 120}
    )
    first = _scheduler_only_cluster(port, dashboard_port)
    second = None
    try:
        first_id = backend.snapshot().scheduler.id
        assert backend.snapshot().scheduler.address == address

        first.close()

        def down():
            try:
                backend.snapshot()
            except SchedulerUnavailable as exc:
                return exc
            raise AssertionError("the snapshot is still served")

        error = _wait_for(down, timeout=20)
        assert error.address == address

        second = _scheduler_only_cluster(port, dashboard_port)
        snapshot = _wait_for(backend.snapshot, timeout=30)
        assert snapshot.scheduler.id != first_id
        assert snapshot.scheduler.address == address
    finally:
        backend.close()
        first.close()
        if second is not None:
            second.close()


# A scheduler that stays down must not make the dashboard gain a thread
# for every failed connection attempt.
def test_down_scheduler_leaks_no_threads():
    (port,) = _free_ports(1)
    backend = DaskBackend(
        {"address": f"tcp://127.0.0.1:{port}", "timeout": 0.5, "poll_interval": 0.2}
    )
    try:
        with pytest.raises(SchedulerUnavailable):
            backend.snapshot()
        time.sleep(1.0)
        before = threading.active_count()
        for _ in range(5):
            with contextlib.suppress(SchedulerUnavailable):
                backend.snapshot()
            time.sleep(0.5)
        after = threading.active_count()
    finally:
        backend.close()
    assert after - before <= 2
