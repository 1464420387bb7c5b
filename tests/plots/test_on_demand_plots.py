"""Plots that fetch scheduler state on demand, against the session cluster."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
from distributed import Event

from plots.event_plots import EventsPlot, ExceptionsTable
from plots.graph_plots import TaskGraph, TaskGroups, layered_layout
from plots.panels import SHARED
from plots.profile_plots import Profile
from plots.system_plots import BandwidthTypes, SchedulerSystem

from .clusters import backend_for

pytestmark = pytest.mark.django_db(transaction=True)


def _fail(x):
    raise ValueError(f"bad input {x}")


def _gated(x, name):
    from distributed import Event

    Event(name).wait(30)
    return x


async def _refresh(panel, backend):
    SHARED._results.clear()
    snapshot = await backend.asnapshot()
    await panel.refresh(snapshot, None)
    return snapshot


def test_layered_layout_follows_dependencies():
    x, y = layered_layout(4, [[0, 2], [1, 2], [2, 3]])
    assert x == [0, 0, 1, 2]
    assert y[0] != y[1]


async def test_scheduler_system_streams_samples(backend):
    panel = SchedulerSystem()
    await _refresh(panel, backend)
    first = len(panel.source.data["time"])
    assert first > 0
    assert not panel.notice.visible
    assert panel.figures["memory"].title.text.startswith("Memory: ")
    await asyncio.sleep(1.2)
    await _refresh(panel, backend)
    assert len(panel.source.data["time"]) > first


async def test_graph_draws_tasks_and_edges(backend, dask_client, settings):
    name = "plots-graph-gate"
    event = Event(name, client=dask_client)
    roots = dask_client.map(
        _gated,
        range(3),
        name=name,
        key=["graph-root-0", "graph-root-1", "graph-root-2"],
    )
    total = dask_client.submit(sum, roots, key="graph-total")
    try:
        panel = TaskGraph(max_items=5000)
        for _ in range(50):
            await _refresh(panel, backend)
            if "graph-total" in panel.nodes.data["key"]:
                break
            await asyncio.sleep(0.2)
        assert "graph-total" in panel.nodes.data["key"]
        assert len(panel.edges.data["xs"]) >= 3
        total_index = panel.nodes.data["key"].index("graph-total")
        assert panel.nodes.data["x"][total_index] == 1
        small = TaskGraph(max_items=2)
        await _refresh(small, backend)
        assert small.notice.visible
        assert "more than the 2 this graph draws" in small.notice.text
        assert not small.figure.visible
        assert small.summary.figure.visible
    finally:
        event.set()
    await asyncio.to_thread(total.result)
    del roots, total


async def test_groups_and_exceptions_fill(backend, dask_client):
    future = dask_client.submit(_fail, 1, key="<b>plots-fail</b>")
    await asyncio.to_thread(future.exception)
    table = ExceptionsTable()
    for _ in range(30):
        await _refresh(table, backend)
        if "<b>plots-fail</b>" in table.source.data["task"]:
            break
        await asyncio.sleep(0.2)
    row = table.source.data["task"].index("<b>plots-fail</b>")
    assert "ValueError" in table.source.data["exception"][row]
    groups = TaskGroups()
    await _refresh(groups, backend)
    assert any("plots-fail" in name for name in groups.source.data["group"])
    del future


async def test_profile_and_bandwidth_word_empty_states(backend):
    server = Profile(server=True)
    await _refresh(server, backend)
    assert server.notice.visible
    assert server.notice.text.startswith("No profile samples")
    bandwidth = BandwidthTypes()
    await _refresh(bandwidth, backend)
    assert bandwidth.figure.title.text.startswith("Bandwidth: ")


async def test_events_plot_lists_worker_events(backend):
    panel = EventsPlot("all", "Scheduler events")
    await _refresh(panel, backend)
    assert panel.source.data["time"], panel.notice.text
    assert not panel.notice.visible


def test_hardware_get_does_not_run_benchmark(staff_client, backend):
    response = staff_client.get("/hardware")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Run the benchmark" in html
    assert "<table" not in html


def test_hardware_button_only_for_operators(viewer_client, backend):
    response = viewer_client.get("/hardware")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Run the benchmark" not in html
    assert "needs the operator role" in html


def test_hardware_post_needs_staff(viewer_client, backend):
    response = viewer_client.post("/hardware")
    assert response.status_code == 403


#: Starts a cluster, runs a map_partitions call that passes another
#: collection's lazy head as a keyword, keeps the result in memory, prints
#: the scheduler address and waits for a line on stdin. Dask's own /groups
#: page answered 500 on the task groups this builds.
COLLECTION_KEYWORD = """
import sys
import dask.dataframe as dd
import pandas as pd
from distributed import Client, LocalCluster

with LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
    host="127.0.0.1", scheduler_port=0, dashboard_address=None,
) as cluster, Client(cluster) as client:
    frame = dd.from_pandas(pd.DataFrame({"x": range(40)}), npartitions=4)
    other = dd.from_pandas(pd.DataFrame({"y": range(40)}), npartitions=4)
    head = other.head(1, compute=False)
    mapped = frame.map_partitions(lambda part, other: part + len(other), other=head)
    persisted = client.persist(mapped)
    assert len(persisted.compute()) == 40
    print(cluster.scheduler_address, flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def collection_keyword_backend():
    """Point the backend at a cluster that ran the map_partitions reproducer."""
    pytest.importorskip("dask.dataframe")
    # The cluster runs in its own process because importing daphne loads
    # twisted.persisted.styles, whose pickle reducer for bound methods
    # breaks the classmethods in dask.dataframe's task specs when a
    # scheduler in this process forwards them to workers.
    process = subprocess.Popen(
        [sys.executable, "-c", COLLECTION_KEYWORD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        address = process.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:"), address
        with backend_for(address) as backend:
            yield backend
    finally:
        process.communicate("\n", timeout=60)


def test_groups_survive_collection_keyword(collection_keyword_backend, viewer_client):
    backend = collection_keyword_backend
    groups = TaskGroups()
    for _ in range(30):
        asyncio.run(_refresh(groups, backend))
        if len(set(groups.source.data["group"])) >= 2:
            break
        time.sleep(0.2)
    assert not groups._failing, groups.notice.text
    # The persisted result and its input stay in memory. The head and
    # repartition groups are released once the result is computed.
    names = set(groups.source.data["group"])
    assert any(name.startswith("frompandas-") for name in names), names
    assert any(name.startswith("lambda-") for name in names), names
    for path in ("/groups", "/individual-groups", "/status"):
        response = viewer_client.get(path)
        assert response.status_code == 200, path
    sitemap = viewer_client.get("/sitemap.json")
    assert sitemap.status_code == 200
    assert "/groups" in sitemap.json()["paths"]
