"""The shared snapshot poller: one poll per interval, however many readers."""

from __future__ import annotations

import threading
import time

import pytest

from clusterdash.backends.dask import DaskBackend

INTERVAL = 0.2


@pytest.fixture
def private_backend(cluster):
    backend = DaskBackend(
        {
            "address": cluster.scheduler_address,
            "poll_interval": INTERVAL,
            "timeout": 2.0,
            "idle_after": 1.0,
        }
    )
    yield backend
    backend.close()


def _polls_while_reading(backend, readers, seconds):
    """Return the polls made while ``readers`` threads read for ``seconds``."""
    backend.snapshot()
    stop = threading.Event()
    errors = []

    def read():
        while not stop.is_set():
            try:
                backend.snapshot()
            except Exception as exc:
                errors.append(exc)
            time.sleep(0.005)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    before = backend._poller.polls
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    return backend._poller.polls - before


def test_readers_share_one_poll(private_backend):
    seconds = 3.0
    single = _polls_while_reading(private_backend, 1, seconds)
    many = _polls_while_reading(private_backend, 20, seconds)
    assert single >= 3
    # One poll per interval at most, whatever the number of readers; the
    # +2 allows for a poll that started just before or after the window.
    assert many <= seconds / INTERVAL + 2
    assert many <= single * 1.5 + 2


def test_poller_stops_when_idle(private_backend):
    private_backend.snapshot()
    # idle_after is 1 s: after 2.5 s without readers the thread has ended.
    time.sleep(2.5)
    stopped_at = private_backend._poller.polls
    time.sleep(1.0)
    assert private_backend._poller.polls == stopped_at
    assert private_backend._poller._thread is None


def test_poller_restarts_on_read(private_backend):
    private_backend.snapshot()
    time.sleep(2.5)
    before = private_backend._poller.polls
    snapshot = private_backend.snapshot()
    assert snapshot.counts["workers"] == 2
    assert private_backend._poller.polls > before


def test_close_stops_polling(private_backend):
    private_backend.snapshot()
    private_backend.close()
    time.sleep(INTERVAL * 2)
    stopped_at = private_backend._poller.polls
    time.sleep(INTERVAL * 3)
    assert private_backend._poller.polls == stopped_at
