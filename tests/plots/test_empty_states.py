"""Plots on a cluster without workers, then without tasks, then live."""

from __future__ import annotations

import asyncio
import time

import pytest
from distributed import Client, LocalCluster

from plots.catalog import INDIVIDUAL

from .clusters import backend_for

pytestmark = pytest.mark.django_db(transaction=True)

NO_WORKERS = "No workers are connected to the scheduler."

#: Plots that must word the missing workers, and turn live once a worker
#: has run tasks.
WORKER_PLOTS = (
    "cpu",
    "nprocessing",
    "occupancy",
    "workers",
    "cluster-memory",
    "workers-memory",
    "task-stream",
)

#: Plots that word the missing tasks, and turn live once tasks exist.
TASK_PLOTS = ("progress", "memory-by-key")


def _inc(x):
    return x + 1


@pytest.fixture
def empty_cluster():
    """Start a cluster with no workers."""
    with LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
    ) as cluster:
        yield cluster


@pytest.fixture
def backend(empty_cluster):
    """Replace the session cluster's backend with one on the empty cluster."""
    with backend_for(empty_cluster.scheduler_address) as empty_backend:
        yield empty_backend


def _refresh_all(panels, snapshot) -> None:
    for panel in panels.values():
        asyncio.run(panel.refresh(snapshot, None))


def test_empty_cluster_then_live(empty_cluster, backend, wait_for_snapshot):
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 0, timeout=30)
    panels = {name: factory() for name, (_, factory) in INDIVIDUAL.items()}
    _refresh_all(panels, snapshot)
    for name, panel in panels.items():
        assert not panel._failing, (name, panel.notice.text)
        if panel.notice.visible:
            assert panel.notice.text != "Waiting for the first update.", name
    for name in WORKER_PLOTS:
        assert panels[name].notice.visible, name
        assert panels[name].notice.text == NO_WORKERS, name
    for name in TASK_PLOTS:
        assert panels[name].notice.visible, name

    # Once a worker joins and runs tasks, the same panels, as an open page
    # keeps them, drop their notices without a new session.
    empty_cluster.scale(1)
    with Client(empty_cluster, set_as_default=False) as client:
        futures = client.map(_inc, range(10), key=[f"empty-{i}" for i in range(10)])
        client.gather(futures)
        wait_for_snapshot(
            lambda s: (
                len(s.workers) == 1 and any(p.name == "empty" for p in s.prefixes)
            ),
            timeout=30,
        )
        live = WORKER_PLOTS + TASK_PLOTS
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _refresh_all({name: panels[name] for name in live}, backend.snapshot())
            if not any(panels[name].notice.visible for name in live):
                break
            time.sleep(0.3)
        for name in live:
            assert not panels[name].notice.visible, (name, panels[name].notice.text)
        del futures
