"""
The text exposition of one worker's ``dask_worker_*`` families.

Names, types and labels follow Dask 2026.8's worker collector. Families
that Dask shows only with GIL monitoring or with spilling enabled are left
out under the same conditions. The Python and process families of the
worker process are not included.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class _WorkerCollector:
    def __init__(self, numbers: dict[str, Any]):
        self.numbers = numbers

    def collect(self):
        n = self.numbers
        tasks = GaugeMetricFamily(
            "dask_worker_tasks", "Number of tasks at worker.", labels=["state"]
        )
        for state, count in sorted(n["tasks"].items()):
            tasks.add_metric([state], count)
        yield tasks

        if n["gil_contention"] is not None:
            yield CounterMetricFamily(
                "dask_worker_gil_contention_seconds",
                "GIL contention metric",
                value=n["gil_contention"],
            )
        yield CounterMetricFamily(
            "dask_worker_gc_collection_seconds",
            "Total time spent on garbage collection",
            value=n["gc_collection"],
        )
        yield GaugeMetricFamily(
            "dask_worker_threads", "Number of worker threads", value=n["threads"]
        )
        yield GaugeMetricFamily(
            "dask_worker_latency_seconds",
            "Latency of worker connection",
            value=n["latency"],
        )
        memory = GaugeMetricFamily(
            "dask_worker_memory_bytes", "Memory breakdown", labels=["type"]
        )
        for kind in ("managed", "unmanaged", "spilled"):
            memory.add_metric([kind], n["memory"][kind])
        yield memory

        yield from self._transfers()
        yield from self._spill()
        yield GaugeMetricFamily(
            "dask_worker_tick_duration_maximum_seconds",
            "Maximum tick duration observed since the worker's own /metrics "
            "was last scraped (reading it here resets nothing)",
            value=n["tick_duration_maximum"],
        )
        yield CounterMetricFamily(
            "dask_worker_tick_count",
            "Total number of ticks observed since the server started",
            value=n["tick_count"],
        )

    def _transfers(self):
        n = self.numbers
        gauges = (
            (
                "transfer_incoming_bytes",
                "Total size of open data transfers from other workers",
            ),
            (
                "transfer_incoming_count",
                "Number of open data transfers from other workers",
            ),
        )
        for name, text in gauges:
            yield GaugeMetricFamily(f"dask_worker_{name}", text, value=n[name])
        yield CounterMetricFamily(
            "dask_worker_transfer_incoming_count",
            "Total number of data transfers from other workers since the worker "
            "was started",
            value=n["transfer_incoming_count_total"],
        )
        gauges = (
            (
                "transfer_outgoing_bytes",
                "Total size of open data transfers to other workers",
            ),
            (
                "transfer_outgoing_count",
                "Number of open data transfers to other workers",
            ),
        )
        for name, text in gauges:
            yield GaugeMetricFamily(f"dask_worker_{name}", text, value=n[name])
        yield CounterMetricFamily(
            "dask_worker_transfer_outgoing_bytes",
            "Total size of data transfers to other workers since the worker was "
            "started (including in-progress and failed transfers)",
            value=n["transfer_outgoing_bytes_total"],
        )
        yield CounterMetricFamily(
            "dask_worker_transfer_outgoing_count",
            "Total number of data transfers to other workers since the worker was "
            "started",
            value=n["transfer_outgoing_count_total"],
        )

    def _spill(self):
        spill = self.numbers["spill"]
        if spill is None:
            return
        families = {
            "bytes": CounterMetricFamily(
                "dask_worker_spill_bytes",
                "Total size of memory and disk accesses caused by managed data "
                "since the latest worker restart",
                labels=["activity"],
            ),
            "count": CounterMetricFamily(
                "dask_worker_spill_count",
                "Total number of memory and disk accesses caused by managed data "
                "since the latest worker restart",
                labels=["activity"],
            ),
            "seconds": CounterMetricFamily(
                "dask_worker_spill_time_seconds",
                "Total time spent spilling/unspilling since the latest worker restart",
                labels=["activity"],
            ),
        }
        for activity, unit, value in spill:
            if unit in families:
                families[unit].add_metric([activity], value)
        yield from families.values()


def render_worker_metrics(numbers: dict[str, Any]) -> tuple[bytes, str]:
    """Return the exposition text of one worker and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_WorkerCollector(numbers))
    return generate_latest(registry), CONTENT_TYPE_LATEST
