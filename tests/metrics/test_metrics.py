"""
/metrics and /metrics/workers against the session's real cluster.

Family names, types and labels are compared with what Dask 2026.8's own
scheduler endpoint serves; promtool and a real Prometheus server read the
output.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time

import pytest
from distributed import LocalCluster
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from metrics.collector import register_collectors

#: Family names (as parsers see them, without ``_total``) and types that
#: Dask 2026.8's scheduler serves without GIL monitoring.
DASK_SCHEDULER_FAMILIES = {
    "dask_scheduler_clients": "gauge",
    "dask_scheduler_client_connections_added": "counter",
    "dask_scheduler_client_connections_removed": "counter",
    "dask_scheduler_desired_workers": "gauge",
    "dask_scheduler_workers": "gauge",
    "dask_scheduler_workers_added": "counter",
    "dask_scheduler_workers_removed": "counter",
    "dask_scheduler_gc_collection_seconds": "counter",
    "dask_scheduler_last_time": "counter",
    "dask_scheduler_tasks_suspicious": "counter",
    "dask_scheduler_tasks_forgotten": "counter",
    "dask_scheduler_tasks": "gauge",
    "dask_scheduler_task_groups": "gauge",
    "dask_scheduler_tasks_compute_seconds": "counter",
    "dask_scheduler_tasks_transfer_seconds": "counter",
    "dask_scheduler_tasks_output_bytes": "gauge",
    "dask_scheduler_prefix_state_totals": "counter",
    "dask_scheduler_tick_duration_maximum_seconds": "gauge",
    "dask_scheduler_tick_count": "counter",
    "dask_semaphore_max_leases": "gauge",
    "dask_semaphore_active_leases": "gauge",
    "dask_semaphore_pending_leases": "gauge",
    "dask_semaphore_acquire": "counter",
    "dask_semaphore_release": "counter",
    "dask_semaphore_average_pending_lease_time_s": "gauge",
    "dask_stealing_request_count": "counter",
    "dask_stealing_request_cost": "counter",
}

COST_MULTIPLIERS = [
    "1.0", "1.03125", "1.0625", "1.125", "1.25", "1.5",
    "2", "3", "5", "9", "17", "33", "65", "129", "257",
]  # fmt: skip


def scrape(client, path="/metrics", **headers):
    response = client.get(path, **headers)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def families(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def dask_families(text):
    return {
        name: family
        for name, family in families(text).items()
        if name.startswith(("dask_scheduler_", "dask_semaphore_", "dask_stealing_"))
        and name != "dask_scheduler_up"
    }


def value(family, **labels):
    for sample in family.samples:
        if sample.labels == labels and not sample.name.endswith("_created"):
            return sample.value
    raise AssertionError(f"no sample {labels} in {family.name}")


def free_port():
    for port in range(8300, 8400):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8300-8399")


def test_family_names_match_dask(client, backend):
    found = dask_families(scrape(client))
    assert set(found) == set(DASK_SCHEDULER_FAMILIES)
    for name, family in found.items():
        assert family.type == DASK_SCHEDULER_FAMILIES[name], name


def test_content_type_is_text_004(client, backend):
    response = client.get("/metrics")
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")


def test_up_and_process_families(client, backend):
    found = families(scrape(client))
    assert value(found["dask_scheduler_up"]) == 1
    assert "process_cpu_seconds" in found
    assert "python_gc_objects_collected" in found
    assert any(name.startswith("django_http_") for name in found)


def test_labels_and_values(client, backend, dask_client, wait_for_snapshot):
    futures = dask_client.map(
        lambda x: x + 1, range(5), key=[f"inc-m-{i}" for i in range(5)]
    )
    dask_client.gather(futures)
    found = families(scrape(client))
    workers = found["dask_scheduler_workers"]
    states = [s.labels["state"] for s in workers.samples]
    assert states == ["idle", "partially_saturated", "saturated", "paused", "retiring"]
    assert sum(s.value for s in workers.samples) == 2
    task_states = {s.labels["state"] for s in found["dask_scheduler_tasks"].samples}
    assert task_states == {
        "released", "waiting", "no-worker", "queued", "processing", "memory", "erred"
    }  # fmt: skip
    assert value(found["dask_scheduler_tasks"], state="memory") >= 5
    totals = found["dask_scheduler_prefix_state_totals"]
    assert value(totals, task_prefix_name="inc-m", state="memory") >= 5
    multipliers = [
        s.labels["cost_multiplier"]
        for s in found["dask_stealing_request_count"].samples
    ]
    assert multipliers == COST_MULTIPLIERS
    del futures


def promtool_check(text):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    return subprocess.run(
        [promtool, "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=30,
    )


def test_promtool_accepts_scheduler_metrics(client, backend, dask_client):
    hostile = ['quote"key', "back\\slash", "new\nline", "ünï-ключ"]
    futures = [
        dask_client.submit(len, "abc", key=f"{prefix}-{i}")
        for i, prefix in enumerate(hostile)
    ]
    dask_client.gather(futures)
    text = scrape(client)
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == b""
    assert result.stderr.strip() == b""
    prefixes = {
        s.labels["task_prefix_name"]
        for s in families(text)["dask_scheduler_tasks_output_bytes"].samples
    }
    assert set(hostile) <= prefixes
    del futures


def test_promtool_on_worker_metrics(client, backend):
    result = promtool_check(scrape(client, "/metrics/workers"))
    # Dask names two gauges ..._count; promtool's lint flags that suffix, and
    # the names are kept so dashboards built for Dask keep working.
    complaints = result.stderr.decode().strip().splitlines()
    assert complaints == [
        "dask_worker_transfer_incoming_count non-histogram and non-summary "
        'metrics should not have "_count" suffix',
        "dask_worker_transfer_outgoing_count non-histogram and non-summary "
        'metrics should not have "_count" suffix',
    ]


def test_registration_twice_no_duplicates(client, backend):
    register_collectors()
    register_collectors()
    text = scrape(client)
    for name in ("dask_scheduler_up", "dask_scheduler_clients", "process_cpu_seconds"):
        type_lines = [
            line for line in text.splitlines() if line.startswith(f"# TYPE {name} ")
        ] or [
            line
            for line in text.splitlines()
            if line.startswith(f"# TYPE {name}_total ")
        ]
        assert len(type_lines) == 1, name


def test_closed_port_gives_up_zero(client, backend):
    port = free_port()
    setting = {
        "BACKEND": "clusterdash.backends.dask.DaskBackend",
        "OPTIONS": {"address": f"tcp://127.0.0.1:{port}", "timeout": 1.0},
    }
    with override_settings(CLUSTERDASH_BACKEND=setting):
        found = families(scrape(client))
        workers = families(scrape(client, "/metrics/workers"))
    assert value(found["dask_scheduler_up"]) == 0
    assert [name for name in found if name.startswith("dask_")] == ["dask_scheduler_up"]
    assert value(workers["dask_scheduler_up"]) == 0
    assert "dask_worker_threads" not in workers


def test_new_cluster_gives_fresh_values(client, backend, backend_on_cluster):
    assert value(families(scrape(client))["dask_scheduler_workers"], state="idle") == 2
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.WARNING,
    ) as other:
        setting = {
            "BACKEND": "clusterdash.backends.dask.DaskBackend",
            "OPTIONS": {"address": other.scheduler_address, "timeout": 2.0},
        }
        with override_settings(CLUSTERDASH_BACKEND=setting):
            text = scrape(client)
    found = families(text)
    assert text.count("# TYPE dask_scheduler_workers gauge") == 1
    assert sum(s.value for s in found["dask_scheduler_workers"].samples) == 1
    again = families(scrape(client))
    assert sum(s.value for s in again["dask_scheduler_workers"].samples) == 2


def test_prefix_cap_adds_other_bucket(client, backend, dask_client):
    keys = [f"cap{i}x-{i}" for i in range(6)]
    futures = dask_client.map(len, ["a"] * 6, key=keys)
    dask_client.gather(futures)
    with override_settings(CLUSTERDASH_METRICS_MAX_PREFIXES=3):
        found = families(scrape(client))
    names = [
        s.labels["task_prefix_name"]
        for s in found["dask_scheduler_tasks_output_bytes"].samples
    ]
    assert len(names) == 3
    assert names[-1] == "other"
    assert len(set(names)) == 3
    del futures


def test_scrape_keeps_scheduler_state(client, backend, dask_client):
    # Dask's own collector clears digests_max (the tick-duration maximum)
    # on every scrape; clusterdash's must leave it alone.
    def mark(dask_scheduler=None):
        dask_scheduler.digests_max["clusterdash-test-marker"] = 1.5

    def read(dask_scheduler=None):
        return dask_scheduler.digests_max.pop("clusterdash-test-marker", None)

    dask_client.run_on_scheduler(mark)
    scrape(client)
    assert dask_client.run_on_scheduler(read) == 1.5


def test_bearer_token_required(client, backend):
    with override_settings(CLUSTERDASH_METRICS_TOKEN="s3cret"):
        missing = client.get("/metrics")
        wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
        right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
        workers = client.get("/metrics/workers")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert workers.status_code == 401


def test_worker_families_per_worker(client, backend, cluster, wait_for_snapshot):
    found = families(scrape(client, "/metrics/workers"))
    addresses = set(cluster.scheduler_info["workers"])
    threads = found["dask_worker_threads"]
    assert {s.labels["worker"] for s in threads.samples} == addresses
    assert all(s.value == 2 for s in threads.samples)
    memory = found["dask_worker_memory_bytes"]
    kinds = {(s.labels["worker"], s.labels["type"]) for s in memory.samples}
    assert len(kinds) == 3 * len(addresses)
    text = scrape(client, "/metrics/workers")
    assert "# TYPE dask_worker_transfer_incoming_count gauge" in text
    assert "# TYPE dask_worker_transfer_outgoing_count_total counter" in text


@pytest.fixture
def metrics_calls(backend, monkeypatch):
    """Record the arguments of every ``scheduler_metrics`` call of the test."""
    calls = []
    fetch = backend.scheduler_metrics

    def counted(*arguments):
        calls.append(arguments)
        return fetch(*arguments)

    monkeypatch.setattr(backend, "scheduler_metrics", counted)
    return calls


@pytest.mark.parametrize(("keep", "expected_calls"), [(60.0, 1), (0.0, 4)])
def test_scrapes_within_the_cache_time_share_one_call(
    client, metrics_calls, keep, expected_calls
):
    calls = metrics_calls
    with override_settings(CLUSTERDASH_METRICS_CACHE_SECONDS=keep):
        texts = [scrape(client) for _ in range(4)]
    assert len(calls) == expected_calls
    for text in texts:
        assert value(families(text)["dask_scheduler_up"]) == 1


def test_shared_text_renews_after_the_cache_time(client, metrics_calls):
    calls = metrics_calls
    with override_settings(CLUSTERDASH_METRICS_CACHE_SECONDS=0.3):
        # An earlier test's scheduler call is shared until it is 0.3 s old.
        time.sleep(0.4)
        first = scrape(client)
        second = scrape(client)
        time.sleep(0.4)
        third = scrape(client)
    assert len(calls) == 2
    assert second == first
    assert value(families(third)["dask_scheduler_up"]) == 1


def test_shared_text_follows_the_prefix_cap(client):
    with override_settings(CLUSTERDASH_METRICS_CACHE_SECONDS=60.0):
        capped = scrape(client)
        with override_settings(CLUSTERDASH_METRICS_MAX_PREFIXES=1):
            recapped = scrape(client)
    assert recapped != capped
