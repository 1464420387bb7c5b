"""Each worker's pages, against real worker processes on two loopback hosts."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from distributed import Client
from prometheus_client.parser import text_string_to_metric_families

from clusterdash.backends import get_backend

from .cluster import start_worker, stop_process

PLOT_PAGES = {
    "status": {"state", "series", "comms"},
    "crossfilter": {"tasks"},
    "system": {"system"},
    "profile": {"profile"},
    "profile-server": {"profile"},
}

#: Sample names Dask's own worker test requires (without GIL and crick ones).
DASK_WORKER_SAMPLES = {
    "dask_worker_latency_seconds",
    "dask_worker_memory_bytes",
    "dask_worker_spill_bytes_total",
    "dask_worker_spill_count_total",
    "dask_worker_spill_time_seconds_total",
    "dask_worker_tasks",
    "dask_worker_threads",
    "dask_worker_tick_count_total",
    "dask_worker_tick_duration_maximum_seconds",
    "dask_worker_transfer_incoming_bytes",
    "dask_worker_transfer_incoming_count",
    "dask_worker_transfer_incoming_count_total",
    "dask_worker_transfer_outgoing_bytes",
    "dask_worker_transfer_outgoing_count",
    "dask_worker_transfer_outgoing_count_total",
    "dask_worker_transfer_outgoing_bytes_total",
    "dask_worker_gc_collection_seconds_total",
}


def wait_for_workers(addresses, timeout=20.0):
    backend = get_backend()
    deadline = time.monotonic() + timeout
    while True:
        snapshot = backend.snapshot()
        if set(addresses) <= {w.address for w in snapshot.workers}:
            return snapshot
        assert time.monotonic() < deadline, f"workers {addresses} not in snapshot"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def addresses(workers_cluster):
    found = [w.address for w in workers_cluster.workers]
    wait_for_workers(found)
    return found


@pytest.fixture(scope="module")
def held_results(workers_cluster, addresses):
    """Hold one computed result on each worker for the module."""
    with Client(workers_cluster.scheduler_address, set_as_default=False) as client:
        futures = [
            client.submit(
                sum, [1, 2, index], key=f"held-sum-{index}", workers=[address]
            )
            for index, address in enumerate(addresses)
        ]
        client.gather(futures)
        yield futures
        client.cancel(futures)


def url(address, page):
    return f"/workers/{address}/{page}"


def test_index_links_every_page(viewer_client, addresses):
    for address in addresses:
        response = viewer_client.get(url(address, ""))
        assert response.status_code == 200
        body = response.content.decode()
        for page in ("status", "counters", "crossfilter", "system", "profile"):
            assert f"/workers/{quote(address, safe='')}/{page}" in body
        for page in ("profile-server", "health", "metrics", "sitemap.json"):
            assert f"/workers/{quote(address, safe='')}/{page}" in body


def test_plot_pages_embed_bokeh(viewer_client, addresses):
    for address in addresses:
        for page in PLOT_PAGES:
            response = viewer_client.get(url(address, page))
            assert response.status_code == 200, (address, page)
            body = response.content.decode()
            assert "bokeh/static/js/bokeh.min.js" in body
            assert f'data-url="/workers/{quote(address, safe="")}/{page}.json"' in body
            assert 'id="worker-plot-item"' in body
            assert "href=./" not in body


def test_plot_data_has_named_sources(viewer_client, addresses, held_results):
    for address in addresses:
        for page, sources in PLOT_PAGES.items():
            response = viewer_client.get(url(address, page + ".json"))
            assert response.status_code == 200, (address, page)
            assert set(response.json()["sources"]) == sources


def test_status_counts_stored_results(viewer_client, addresses, held_results):
    for address in addresses:
        state = viewer_client.get(url(address, "status.json")).json()["sources"][
            "state"
        ]
        assert state["Stored"] == [1]
        assert state["Executing"] == ["0 / 2"]


def test_status_history_grows(viewer_client, addresses):
    first = viewer_client.get(url(addresses[0], "status.json")).json()
    second = viewer_client.get(url(addresses[0], "status.json")).json()
    assert len(second["sources"]["series"]["time"]) > len(
        first["sources"]["series"]["time"]
    )


def test_crossfilter_lists_worker_tasks(viewer_client, addresses, held_results):
    for index, address in enumerate(addresses):
        tasks = viewer_client.get(url(address, "crossfilter.json")).json()["sources"][
            "tasks"
        ]
        assert f"held-sum-{index}" in tasks["key"]
        assert "held-sum" in tasks["prefix"]
        other = f"held-sum-{1 - index}"
        assert other not in tasks["key"]


def test_system_has_samples(viewer_client, addresses):
    for address in addresses:
        system = viewer_client.get(url(address, "system.json")).json()["sources"][
            "system"
        ]
        assert system["time"]
        assert len(system["cpu"]) == len(system["time"])
        assert all(value > 0 for value in system["memory"])


def test_profile_accepts_key(viewer_client, addresses):
    response = viewer_client.get(url(addresses[0], "profile.json") + "?key=held-sum")
    assert response.status_code == 200
    rectangles = response.json()["sources"]["profile"]
    assert len(rectangles["left"]) == len(rectangles["color"])


def test_counters_page(viewer_client, addresses):
    for address in addresses:
        response = viewer_client.get(url(address, "counters"))
        assert response.status_code == 200
        assert "<caption>op</caption>" in response.content.decode()
        counters = viewer_client.get(url(address, "counters.json")).json()["counters"]
        assert counters["op"]["run"] >= 1


def test_health_is_ok(viewer_client, addresses):
    for address in addresses:
        response = viewer_client.get(url(address, "health"))
        assert response.status_code == 200
        assert response.content == b"ok"
        assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_metrics_use_dask_names(viewer_client, addresses, held_results):
    for address in addresses:
        response = viewer_client.get(url(address, "metrics"))
        assert response.status_code == 200
        families = list(text_string_to_metric_families(response.content.decode()))
        # A family without samples (spill time before any spilling) still
        # has its HELP and TYPE lines, as in Dask.
        names = {
            family.name + ("_total" if family.type == "counter" else "")
            for family in families
        }
        assert DASK_WORKER_SAMPLES <= names
        tasks = {
            sample.labels["state"]: sample.value
            for family in families
            for sample in family.samples
            if sample.name == "dask_worker_tasks"
        }
        assert tasks == {"memory": 1.0}
        threads = [
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "dask_worker_threads"
        ]
        assert threads == [2.0]


def _tick_count(client, address):
    response = client.get(url(address, "metrics"))
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            if sample.name == "dask_worker_tick_count_total":
                return sample.value
    raise AssertionError("dask_worker_tick_count_total missing")


def test_metrics_scrape_twice(viewer_client, addresses):
    first = _tick_count(viewer_client, addresses[0])
    second = _tick_count(viewer_client, addresses[0])
    assert first > 0
    assert second >= first


def test_sitemap_lists_pages(viewer_client, addresses):
    for address in addresses:
        paths = viewer_client.get(url(address, "sitemap.json")).json()["paths"]
        assert f"/workers/{quote(address, safe='')}/status" in paths
        assert f"/workers/{quote(address, safe='')}/metrics" in paths
        assert f"/workers/{quote(address, safe='')}/sitemap.json" in paths
        assert paths == sorted(paths)


def test_encoded_addresses_resolve(viewer_client, addresses):
    address = addresses[0]
    once = quote(address, safe="")
    twice = quote(once, safe="")
    for text in (once, twice):
        response = viewer_client.get(f"/workers/{text}/health")
        assert response.status_code == 200, text


def test_unknown_worker_is_404_escaped(viewer_client, addresses):
    response = viewer_client.get("/workers/tcp://127.0.0.9:1/status")
    assert response.status_code == 404
    assert "tcp://127.0.0.9:1" in response.content.decode()
    response = viewer_client.get("/workers/<script>x</script>/status")
    assert response.status_code == 404
    body = response.content.decode()
    assert "<script>x" not in body
    assert "&lt;script&gt;x" in body
    response = viewer_client.get("/workers/nowhere/status.json")
    assert response.status_code == 404
    assert "nowhere" in response.json()["error"]


def test_departed_worker_is_404(viewer_client, workers_cluster, addresses):
    extra = start_worker(workers_cluster.scheduler_address, "127.0.0.4", 8526, 8527)
    try:
        wait_for_workers([extra.address])
    finally:
        stop_process(extra.process)
    # The snapshot may or may not list the worker yet, and both paths return 404.
    for page in ("status", "status.json", "health", "metrics", "counters"):
        response = viewer_client.get(url(extra.address, page))
        assert response.status_code == 404, page
        assert extra.address in response.content.decode(), page


def test_frozen_worker_times_out(viewer_client, workers_cluster, addresses):
    worker = workers_cluster.workers[1]
    backend = get_backend()
    limit = backend.timeout + backend.worker_timeout + 5.0
    worker.freeze()
    try:
        for page in (
            "status.json",
            "crossfilter.json",
            "health",
            "metrics",
            "counters",
        ):
            started = time.monotonic()
            response = viewer_client.get(url(worker.address, page))
            elapsed = time.monotonic() - started
            assert response.status_code == 504, page
            assert elapsed < limit, page
            assert "did not answer" in response.content.decode(), page
    finally:
        worker.thaw()
    assert viewer_client.get(url(worker.address, "health")).status_code == 200
