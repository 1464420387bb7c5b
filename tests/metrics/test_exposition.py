"""
The raw /metrics text as Prometheus and Grafana read it: sample names,
``_total`` suffixes, registration across URLconf reloads and settings, and
label cardinality with many task prefixes.
"""

from __future__ import annotations

import importlib
import re
import socket
import threading
import time

import pytest
from dask.utils import key_split
from django.test import Client, override_settings
from django.urls import clear_url_caches
from prometheus_client.parser import text_string_to_metric_families

from clusterdash.backends import get_backend

from .test_metrics import promtool_check, scrape

#: ``# TYPE`` lines of Dask 2026.8's scheduler ``/metrics`` (no GIL
#: monitoring, no semaphores in use), in its order, for the Dask families.
DASK_TYPE_LINES = [
    ("dask_scheduler_clients", "gauge"),
    ("dask_scheduler_client_connections_added_total", "counter"),
    ("dask_scheduler_client_connections_removed_total", "counter"),
    ("dask_scheduler_desired_workers", "gauge"),
    ("dask_scheduler_workers", "gauge"),
    ("dask_scheduler_workers_added_total", "counter"),
    ("dask_scheduler_workers_removed_total", "counter"),
    ("dask_scheduler_gc_collection_seconds_total", "counter"),
    ("dask_scheduler_last_time_total", "counter"),
    ("dask_scheduler_tasks_suspicious_total", "counter"),
    ("dask_scheduler_tasks_forgotten_total", "counter"),
    ("dask_scheduler_tasks", "gauge"),
    ("dask_scheduler_task_groups", "gauge"),
    ("dask_scheduler_tasks_compute_seconds_total", "counter"),
    ("dask_scheduler_tasks_transfer_seconds_total", "counter"),
    ("dask_scheduler_tasks_output_bytes", "gauge"),
    ("dask_scheduler_prefix_state_totals_total", "counter"),
]

#: Families of Dask's scheduler that follow the ones above: the tick
#: families, and the semaphore and stealing extensions.
DASK_LATER_TYPE_LINES = {
    ("dask_scheduler_tick_duration_maximum_seconds", "gauge"),
    ("dask_scheduler_tick_count_total", "counter"),
    ("dask_semaphore_max_leases", "gauge"),
    ("dask_semaphore_active_leases", "gauge"),
    ("dask_semaphore_pending_leases", "gauge"),
    ("dask_semaphore_acquire_total", "counter"),
    ("dask_semaphore_release_total", "counter"),
    ("dask_semaphore_average_pending_lease_time_s", "gauge"),
    ("dask_stealing_request_count_total", "counter"),
    ("dask_stealing_request_cost_total", "counter"),
}

TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)$", re.MULTILINE)


def type_lines(text):
    return TYPE_LINE.findall(text)


def dask_type_lines(text):
    return [
        (name, kind)
        for name, kind in type_lines(text)
        if name.startswith("dask_") and name != "dask_scheduler_up"
    ]


def sample_names(text):
    return {
        line.split("{", 1)[0].split(" ", 1)[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def family_count(text, name):
    return sum(1 for found, _ in type_lines(text) if found == name)


def label_values(text, family, label):
    for parsed in text_string_to_metric_families(text):
        if parsed.name == family:
            return [sample.labels[label] for sample in parsed.samples]
    raise AssertionError(f"no family {family}")


# Names and types --------------------------------------------------------------


def test_type_lines_match_dask_order(client, backend):
    found = dask_type_lines(scrape(client))
    assert found[: len(DASK_TYPE_LINES)] == DASK_TYPE_LINES
    assert set(found[len(DASK_TYPE_LINES) :]) <= DASK_LATER_TYPE_LINES


def test_sample_names_are_type_names(client, backend):
    text = scrape(client)
    declared = {name for name, _ in type_lines(text)}
    dask_samples = {name for name in sample_names(text) if name.startswith("dask_")}
    # Dask's families are unit-suffixed counters or gauges: each sample
    # carries exactly its family's declared name, never a ``_created`` twin.
    assert dask_samples <= declared
    assert not any(name.endswith("_created") for name in dask_samples)


@pytest.mark.parametrize("path", ["/metrics", "/metrics/workers"])
def test_total_suffix_iff_counter(client, backend, path):
    for name, kind in type_lines(scrape(client, path)):
        if not name.startswith("dask_"):
            continue
        assert name.endswith("_total") == (kind == "counter"), (name, kind)


# Registration -----------------------------------------------------------------


def test_reloaded_urlconf_keeps_one_family(client, backend):
    import clusterdash.urls
    import metrics.urls
    import metrics.views

    scrape(client)
    importlib.reload(metrics.views)
    importlib.reload(metrics.urls)
    importlib.reload(clusterdash.urls)
    clear_url_caches()
    try:
        text = scrape(client)
    finally:
        clear_url_caches()
    for name in ("dask_scheduler_up", "dask_scheduler_workers", "process_cpu_seconds"):
        assert family_count(text, name) + family_count(text, f"{name}_total") == 1


def test_switched_backend_setting_is_fresh(client, backend, backend_on_cluster):
    # The same scheduler under a second backend instance: one family each,
    # with the values of the running cluster.
    setting = {
        "BACKEND": "clusterdash.backends.dask.DaskBackend",
        "OPTIONS": {"address": backend_on_cluster, "timeout": 2.0},
    }
    with override_settings(CLUSTERDASH_BACKEND=setting):
        switched = get_backend()
        text = scrape(client)
    assert switched is not backend
    assert family_count(text, "dask_scheduler_workers") == 1
    assert family_count(text, "dask_scheduler_up") == 1
    workers = text_string_to_metric_families(text)
    counts = {
        f.name: sum(s.value for s in f.samples)
        for f in workers
        if f.name in {"dask_scheduler_workers", "dask_scheduler_up"}
    }
    assert counts == {"dask_scheduler_workers": 2, "dask_scheduler_up": 1}


@pytest.mark.django_db(transaction=True)
def test_parallel_clients_each_get_one_family(backend):
    results: list[str] = []
    errors: list[BaseException] = []

    def run():
        try:
            local = Client()
            for _ in range(5):
                results.append(scrape(local))
        except BaseException as exc:  # reported by the assertions below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(results) == 10
    for text in results:
        assert family_count(text, "dask_scheduler_workers") == 1
        assert family_count(text, "dask_scheduler_up") == 1
        assert "dask_scheduler_up 1.0" in text


# Cardinality ------------------------------------------------------------------

PER_PREFIX_FAMILIES = [
    "dask_scheduler_tasks_suspicious",
    "dask_scheduler_tasks_compute_seconds",
    "dask_scheduler_tasks_transfer_seconds",
    "dask_scheduler_tasks_output_bytes",
]


@pytest.mark.slow
def test_many_prefixes_are_capped_and_age_out(client, backend, dask_client):
    # 2,000 distinct prefixes keep the test fast. The cap, not the number
    # of prefixes, bounds the series, so 50,000 give the same count.
    count = 2000
    cap = 50
    keys = [f"card{i}x-{i}" for i in range(count)]
    futures = dask_client.map(len, ["ab"] * count, key=keys)
    dask_client.gather(futures)

    with override_settings(CLUSTERDASH_METRICS_MAX_PREFIXES=cap):
        held = scrape(client)
        del futures
        fresh = dask_client.submit(len, "abc", key="fresh-after-release-0")
        fresh.result()
        # Releasing is asynchronous: scrape until the scheduler forgot them.
        deadline = time.monotonic() + 30
        while True:
            released = scrape(client)
            names = label_values(
                released, "dask_scheduler_tasks_output_bytes", "task_prefix_name"
            )
            still_held = sum(name.startswith("card") for name in names)
            if still_held < cap - 1 or time.monotonic() > deadline:
                break
            time.sleep(0.5)

    for family in PER_PREFIX_FAMILIES:
        names = label_values(held, family, "task_prefix_name")
        assert len(names) == cap, family
        assert len(set(names)) == cap, family
        assert names[-1] == "other", family
    # Held prefixes rank first, so once the 2,000 are released a new
    # prefix gets its own series and the released ones sum into ``other``.
    names = label_values(
        released, "dask_scheduler_tasks_output_bytes", "task_prefix_name"
    )
    assert len(names) == cap
    assert "fresh-after-release" in names
    assert still_held < cap - 1

    result = promtool_check(released)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == b""
    del fresh


def test_escaped_prefix_labels_pass_promtool(client, backend, dask_client):
    hostile = ['q"uote', "back\\slash\\", "new\nline", "ключ-键-✓", "tab\there"]
    futures = [
        dask_client.submit(len, "abc", key=f"{prefix}-{i}")
        for i, prefix in enumerate(hostile)
    ]
    dask_client.gather(futures)
    text = scrape(client)
    result = promtool_check(text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == b""
    names = set(
        label_values(text, "dask_scheduler_prefix_state_totals", "task_prefix_name")
    )
    assert {key_split(f"{p}-{i}") for i, p in enumerate(hostile)} <= names
    assert '\\"' in text
    assert "\\n" in text
    del futures


# Unreachable scheduler ----------------------------------------------------------


def test_silent_scheduler_gives_up_zero_in_time(client, backend):
    # A listener that accepts connections and never replies, as a frozen
    # scheduler does: the handshake, not the connect, has to time out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        setting = {
            "BACKEND": "clusterdash.backends.dask.DaskBackend",
            "OPTIONS": {"address": f"tcp://127.0.0.1:{port}", "timeout": 1.0},
        }
        with override_settings(CLUSTERDASH_BACKEND=setting):
            started = time.monotonic()
            text = scrape(client)
            elapsed = time.monotonic() - started
    assert elapsed < 15
    assert "dask_scheduler_up 0.0" in text
    assert family_count(text, "dask_scheduler_workers") == 0
    assert family_count(text, "process_cpu_seconds_total") == 1
