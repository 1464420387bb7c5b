"""
Prometheus collectors with Dask's family names, types and labels.

The scheduler collector yields the families that Dask's scheduler serves
(``dask_scheduler_*``, ``dask_semaphore_*``, ``dask_stealing_*``) plus
``dask_scheduler_up``. The worker collector yields Dask's ``dask_worker_*``
families for every worker at once, with a ``worker`` label. Both ask the
backend at scrape time and change nothing on the scheduler, so a scrape of
clusterdash does not reset Dask's tick-duration maximum as Dask's own
endpoint does.

Collectors are registered once per process (``register_collectors``) and
call ``get_backend()`` on every scrape, so a new cluster or a changed
backend setting gives fresh values under the same families. Scrapes within
``CLUSTERDASH_METRICS_CACHE_SECONDS`` of each other share one scheduler
call, so any number of scrapers costs the scheduler at most one call per
family set in that time.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator

from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from clusterdash.backends import SchedulerUnavailable, get_backend
from clusterdash.backends.types import SchedulerMetrics, WorkerMetrics

logger = logging.getLogger(__name__)

Family = GaugeMetricFamily | CounterMetricFamily

#: Seconds between two log lines about the same failing scrape.
LOG_EVERY = 60.0


class _Throttle:
    """Let one log line through per ``LOG_EVERY`` seconds."""

    def __init__(self) -> None:
        self._last = 0.0
        self._lock = threading.Lock()

    def ready(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last < LOG_EVERY:
                return False
            self._last = now
            return True


class _Recent:
    """Share one backend result between scrapes for a short time.

    Concurrent scrapes wait for the call in flight instead of starting their
    own. A result belongs to one backend object and one argument tuple, so
    a new backend or a changed setting is fetched afresh; failures are not
    kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backend = None
        self._arguments: tuple = ()
        self._value = None
        self._fetched_at = 0.0

    def get(self, backend, method: str, *arguments):
        keep = settings.CLUSTERDASH_METRICS_CACHE_SECONDS
        if keep <= 0:
            return getattr(backend, method)(*arguments)
        with self._lock:
            current = self._backend() if self._backend is not None else None
            fresh = time.monotonic() - self._fetched_at < keep
            if current is backend and self._arguments == arguments and fresh:
                return self._value
            value = getattr(backend, method)(*arguments)
            self._backend = weakref.ref(backend)
            self._arguments = arguments
            self._value = value
            self._fetched_at = time.monotonic()
            return value


def _up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "dask_scheduler_up",
        "Whether the dashboard reached the scheduler during this scrape (1 or 0)",
        value=value,
    )


class SchedulerCollector(Collector):
    """Yield Dask's scheduler, semaphore and work-stealing families."""

    def __init__(self) -> None:
        self._throttle = _Throttle()
        self._recent = _Recent()

    def describe(self) -> list:
        # An empty description keeps registration from calling collect(),
        # which would contact the scheduler at startup.
        return []

    def collect(self) -> Iterator[Family]:
        max_prefixes = settings.CLUSTERDASH_METRICS_MAX_PREFIXES
        try:
            numbers = self._recent.get(get_backend(), "scheduler_metrics", max_prefixes)
        except SchedulerUnavailable as exc:
            if self._throttle.ready():
                logger.warning("Scrape without scheduler metrics: %s", exc)
            yield _up(0)
            return
        except Exception:
            if self._throttle.ready():
                logger.exception("Reading scheduler metrics failed")
            yield _up(0)
            return
        yield _up(1)
        yield from scheduler_families(numbers)
        if numbers.semaphores is not None:
            yield from semaphore_families(numbers)
        if numbers.stealing is not None:
            yield from stealing_families(numbers)


def scheduler_families(numbers: SchedulerMetrics) -> Iterator[Family]:
    """Yield the ``dask_scheduler_*`` families in Dask's output order."""
    yield GaugeMetricFamily(
        "dask_scheduler_clients", "Number of clients connected", value=numbers.clients
    )
    yield CounterMetricFamily(
        "dask_scheduler_client_connections_added",
        "Total number of client connections added",
        value=numbers.client_connections_added,
    )
    yield CounterMetricFamily(
        "dask_scheduler_client_connections_removed",
        "Total number of client connections removed",
        value=numbers.client_connections_removed,
    )
    yield GaugeMetricFamily(
        "dask_scheduler_desired_workers",
        "Number of workers scheduler needs for task graph",
        value=numbers.desired_workers,
    )
    workers = GaugeMetricFamily(
        "dask_scheduler_workers",
        "Number of workers known by scheduler",
        labels=["state"],
    )
    for state, count in numbers.workers:
        workers.add_metric([state], count)
    yield workers
    yield CounterMetricFamily(
        "dask_scheduler_workers_added",
        "Total number of workers added",
        value=numbers.workers_added,
    )
    yield CounterMetricFamily(
        "dask_scheduler_workers_removed",
        "Total number of workers removed",
        value=numbers.workers_removed,
    )
    if numbers.gil_contention_seconds is not None:
        yield CounterMetricFamily(
            "dask_scheduler_gil_contention",
            "GIL contention metric",
            value=numbers.gil_contention_seconds,
            unit="seconds",
        )
    yield CounterMetricFamily(
        "dask_scheduler_gc_collection",
        "Total time spent on garbage collection",
        value=numbers.gc_collection_seconds,
        unit="seconds",
    )
    yield CounterMetricFamily(
        "dask_scheduler_last_time", "SystemMonitor last time", value=numbers.last_time
    )
    yield from _task_families(numbers)
    yield from _prefix_families(numbers)
    yield GaugeMetricFamily(
        "dask_scheduler_tick_duration_maximum_seconds",
        "Maximum tick duration observed since Prometheus last scraped metrics",
        value=numbers.tick_duration_maximum_seconds,
    )
    yield CounterMetricFamily(
        "dask_scheduler_tick_count_total",
        "Total number of ticks observed since the server started",
        value=numbers.tick_count,
    )


def _task_families(numbers: SchedulerMetrics) -> Iterator[Family]:
    suspicious = CounterMetricFamily(
        "dask_scheduler_tasks_suspicious",
        "Total number of times a task has been marked suspicious",
        labels=["task_prefix_name"],
    )
    for prefix in numbers.prefixes:
        suspicious.add_metric([prefix.name], prefix.suspicious)
    yield suspicious
    yield CounterMetricFamily(
        "dask_scheduler_tasks_forgotten",
        "Total number of processed tasks no longer in memory and already "
        "removed from the scheduler job queue\n"
        "Note: Task groups on the scheduler which have all tasks "
        "in the forgotten state are not included.",
        value=numbers.tasks_forgotten,
    )
    tasks = GaugeMetricFamily(
        "dask_scheduler_tasks", "Number of tasks known by scheduler", labels=["state"]
    )
    for state, count in numbers.tasks:
        tasks.add_metric([state], count)
    yield tasks
    yield GaugeMetricFamily(
        "dask_scheduler_task_groups",
        "Number of task groups known by scheduler",
        value=numbers.task_groups,
    )


def _prefix_families(numbers: SchedulerMetrics) -> Iterator[Family]:
    compute = CounterMetricFamily(
        "dask_scheduler_tasks_compute",
        "Total amount of compute time spent in each prefix",
        labels=["task_prefix_name"],
        unit="seconds",
    )
    transfer = CounterMetricFamily(
        "dask_scheduler_tasks_transfer",
        "Total amount of transfer time spent in each prefix",
        labels=["task_prefix_name"],
        unit="seconds",
    )
    output = GaugeMetricFamily(
        "dask_scheduler_tasks_output",
        "Current number of bytes in memory (without duplicates) for each prefix",
        labels=["task_prefix_name"],
        unit="bytes",
    )
    state_totals = CounterMetricFamily(
        "dask_scheduler_prefix_state_totals",
        "Accumulated count of task prefix in each state",
        labels=["task_prefix_name", "state"],
    )
    for prefix in numbers.prefixes:
        compute.add_metric([prefix.name], prefix.compute_seconds)
        transfer.add_metric([prefix.name], prefix.transfer_seconds)
        output.add_metric([prefix.name], prefix.nbytes)
        for state, count in prefix.state_totals.items():
            state_totals.add_metric([prefix.name, state], count)
    yield compute
    yield transfer
    yield output
    yield state_totals


def semaphore_families(numbers: SchedulerMetrics) -> Iterator[Family]:
    """Yield the ``dask_semaphore_*`` families, one sample per semaphore."""
    families = {
        "max_leases": GaugeMetricFamily(
            "dask_semaphore_max_leases",
            "Maximum leases allowed per semaphore\n"
            "Note: This will be constant for each semaphore during its lifetime.",
            labels=["name"],
        ),
        "active_leases": GaugeMetricFamily(
            "dask_semaphore_active_leases",
            "Amount of currently active leases per semaphore",
            labels=["name"],
        ),
        "pending_leases": GaugeMetricFamily(
            "dask_semaphore_pending_leases",
            "Amount of currently pending leases per semaphore",
            labels=["name"],
        ),
        "acquire_total": CounterMetricFamily(
            "dask_semaphore_acquire_total",
            "Total number of leases acquired per semaphore",
            labels=["name"],
        ),
        "release_total": CounterMetricFamily(
            "dask_semaphore_release_total",
            "Total number of leases released per semaphore\n"
            "Note: If a semaphore is closed while there are still leases active, "
            "this count will not equal `semaphore_acquire_total` after execution.",
            labels=["name"],
        ),
        "average_pending_lease_time": GaugeMetricFamily(
            "dask_semaphore_average_pending_lease_time",
            "Exponential moving average of the time it took to acquire a lease "
            "per semaphore\n"
            "Note: This only includes time spent on scheduler side, "
            "it does not include time spent on communication.\n"
            "Note: This average is calculated based on order of leases instead "
            "of time of lease acquisition.",
            labels=["name"],
            unit="s",
        ),
    }
    for semaphore in numbers.semaphores or ():
        for field, family in families.items():
            family.add_metric([semaphore.name], getattr(semaphore, field))
    yield from families.values()


def stealing_families(numbers: SchedulerMetrics) -> Iterator[Family]:
    """Yield the ``dask_stealing_*`` families, one sample per cost multiplier."""
    count = CounterMetricFamily(
        "dask_stealing_request_count_total",
        "Total number of stealing requests per cost multiplier.",
        labels=["cost_multiplier"],
    )
    cost = CounterMetricFamily(
        "dask_stealing_request_cost_total",
        "Total cost of stealing requests per cost multiplier.",
        labels=["cost_multiplier"],
    )
    for multiplier, requests, request_cost in numbers.stealing or ():
        count.add_metric([multiplier], requests)
        cost.add_metric([multiplier], request_cost)
    yield count
    yield cost


class WorkerCollector(Collector):
    """
    Yield Dask's ``dask_worker_*`` families for all workers, labelled ``worker``.

    Values come from the workers' last heartbeats, so one scrape costs the
    scheduler O(workers) and contacts no worker. Heartbeats do not carry
    every worker family: latency, GC time, tick, spill and ``crick``
    families are only on each worker's own ``/metrics``.
    """

    def __init__(self) -> None:
        self._throttle = _Throttle()
        self._recent = _Recent()

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Family]:
        try:
            workers = self._recent.get(get_backend(), "worker_metrics")
        except SchedulerUnavailable as exc:
            if self._throttle.ready():
                logger.warning("Scrape without worker metrics: %s", exc)
            yield _up(0)
            return
        except Exception:
            if self._throttle.ready():
                logger.exception("Reading worker metrics failed")
            yield _up(0)
            return
        yield _up(1)
        yield from worker_families(workers)


#: Heartbeat transfer fields, in Dask's order, with the family type and help.
_TRANSFER_FAMILIES = (
    (
        "incoming_bytes",
        GaugeMetricFamily,
        "Total size of open data transfers from other workers",
    ),
    (
        "incoming_count",
        GaugeMetricFamily,
        "Number of open data transfers from other workers",
    ),
    (
        "incoming_count_total",
        CounterMetricFamily,
        "Total number of data transfers from other workers "
        "since the worker was started",
    ),
    (
        "outgoing_bytes",
        GaugeMetricFamily,
        "Total size of open data transfers to other workers",
    ),
    (
        "outgoing_count",
        GaugeMetricFamily,
        "Number of open data transfers to other workers",
    ),
    (
        "outgoing_count_total",
        CounterMetricFamily,
        "Total number of data transfers to other workers since the worker was started",
    ),
)


def worker_families(workers: list[WorkerMetrics]) -> Iterator[Family]:
    """Yield the ``dask_worker_*`` families that heartbeats carry."""
    tasks = GaugeMetricFamily(
        "dask_worker_tasks", "Number of tasks at worker.", labels=["worker", "state"]
    )
    threads = GaugeMetricFamily(
        "dask_worker_threads", "Number of worker threads", labels=["worker"]
    )
    memory = GaugeMetricFamily(
        "dask_worker_memory",
        "Memory breakdown",
        labels=["worker", "type"],
        unit="bytes",
    )
    for worker in workers:
        for state, count in worker.tasks.items():
            tasks.add_metric([worker.address, state], count)
        threads.add_metric([worker.address], worker.threads)
        for kind in ("managed", "unmanaged", "spilled"):
            memory.add_metric([worker.address, kind], worker.memory.get(kind, 0))
    yield tasks
    yield threads
    yield memory
    for field, family_type, help_text in _TRANSFER_FAMILIES:
        family = family_type(
            f"dask_worker_transfer_{field}", help_text, labels=["worker"]
        )
        for worker in workers:
            value = worker.transfer.get(field)
            if value is not None:
                family.add_metric([worker.address], value)
        yield family


_registered = False
_register_lock = threading.Lock()

#: Registry of ``/metrics/workers``; the worker families stay out of the
#: default registry, so ``/metrics`` matches Dask's scheduler endpoint.
WORKER_REGISTRY = CollectorRegistry(auto_describe=False)


def register_collectors() -> None:
    """Register both collectors, once per process; later calls do nothing."""
    global _registered
    with _register_lock:
        if _registered:
            return
        REGISTRY.register(SchedulerCollector())
        WORKER_REGISTRY.register(WorkerCollector())
        _registered = True
