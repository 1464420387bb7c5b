"""Pages for a worker that is known but frozen: 504 within the timeout."""

from __future__ import annotations

import logging
import os
import signal
from urllib.parse import quote

import pytest
from distributed import Client, LocalCluster
from django.test import override_settings

from clusterdash.backends import get_backend


@pytest.fixture(scope="module")
def frozen_worker(backend_on_cluster):
    """Start a one-worker cluster, point the site at it, and stop the worker."""
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
        silence_logs=logging.WARNING,
    ) as local_cluster:
        setting = {
            "BACKEND": "clusterdash.backends.dask.DaskBackend",
            "OPTIONS": {
                "address": local_cluster.scheduler_address,
                "timeout": 2.0,
                "worker_timeout": 1.0,
                "poll_interval": 0.2,
            },
        }
        with Client(local_cluster, set_as_default=False) as client:
            pids = client.run(os.getpid)
        address, pid = next(iter(pids.items()))
        with override_settings(CLUSTERDASH_BACKEND=setting):
            get_backend().snapshot()
            os.kill(pid, signal.SIGSTOP)
            try:
                yield address
            finally:
                os.kill(pid, signal.SIGCONT)


def test_frozen_worker_log_page_is_504(staff_client, frozen_worker):
    response = staff_client.get(f"/info/logs/{quote(frozen_worker, safe='')}.html")

    assert response.status_code == 504
    assert frozen_worker.encode() in response.content
    assert b"did not answer" in response.content


def test_other_pages_answer_while_worker_is_frozen(viewer_client, frozen_worker):
    health = viewer_client.get("/health")
    counts = viewer_client.get("/json/counts.json")

    assert health.status_code == 200
    assert counts.status_code == 200
