"""
The live Dask backend: one ``distributed.Client`` per process.

The client is created lazily, in the thread that first needs it, and never
in ``AppConfig.ready()``, where runserver's reloader would connect twice.
It runs its own event loop thread, so the synchronous calls below work the
same from sync views, from async views through a thread, from the snapshot
poller and from management commands. Every call is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
from typing import Any

import cloudpickle
from dask.utils import key_split
from distributed import Client
from distributed.comm.core import CommClosedError
from distributed.utils import color_of

from ..base import ClusterBackend
from ..exceptions import (
    BackendError,
    SchedulerUnavailable,
    TaskNotFound,
    WorkerNotFound,
    WorkerUnresponsive,
)
from ..types import (
    ClientSummary,
    ErredTask,
    HeldKey,
    Key,
    LogPage,
    LogRecord,
    PrefixMetrics,
    PrefixProgress,
    ProcessingKey,
    SchedulerMetrics,
    SchedulerSummary,
    SemaphoreMetrics,
    Snapshot,
    StackFrame,
    TaskDetail,
    TaskRef,
    TaskStack,
    TaskStreamRecord,
    TopicTail,
    Transition,
    WorkerDetail,
    WorkerMetrics,
    WorkerSummary,
)
from . import plot_side, scheduler_side, worker_side
from .pickling import restore_method_pickling

# The scheduler host does not have clusterdash installed, so its functions
# travel as code rather than as an import path.
cloudpickle.register_pickle_by_value(scheduler_side)
cloudpickle.register_pickle_by_value(plot_side)
cloudpickle.register_pickle_by_value(worker_side)

#: The worker-side functions that ``call_worker`` may run.
WORKER_SIDE_CALLS = frozenset(
    {
        "status",
        "counters",
        "task_records",
        "system_samples",
        "profile",
        "prometheus_numbers",
        "health",
    }
)

logger = logging.getLogger(__name__)

_CONNECTION_ERRORS = (OSError, CommClosedError, asyncio.TimeoutError, TimeoutError)

#: Task-stream records fetched in one poll at most; a faster stream skips
#: the oldest records of the interval.
STREAM_BATCH = 20_000


class DaskBackend(ClusterBackend):
    """
    Read a running Dask scheduler through a ``distributed.Client``.

    Options, beside the common ones of ``ClusterBackend``:

    ``address``
        The scheduler address, for example ``tcp://10.0.0.5:8786``.
    """

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self._address = str(self.options.get("address") or "")
        self._client: Client | None = None
        self._client_lock = threading.Lock()
        self._loop: _LoopThread | None = None

    @property
    def address(self) -> str:
        return self._address

    def close(self) -> None:
        super().close()
        with self._client_lock:
            client, self._client = self._client, None
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if client is not None:
            try:
                loop.run(client.close(), self.timeout)
            except Exception:
                logger.debug("Closing the client of %s failed", self.address)
        loop.stop()

    # Connection --------------------------------------------------------------

    def _connect_address(self) -> str:
        return self._address

    def _loop_thread(self) -> _LoopThread:
        if self._loop is None:
            self._loop = _LoopThread()
        return self._loop

    def client(self) -> Client:
        """
        Return the process's client, connecting or reconnecting as needed.

        The client is asynchronous and lives on one event-loop thread that
        this backend owns, so a failed connection attempt leaves no thread
        behind. Raises ``SchedulerUnavailable`` when the scheduler cannot
        be reached, or does not finish the handshake, within the timeout.
        """
        with self._client_lock:
            client = self._client
            if client is not None and client.status in ("running", "connecting"):
                return client
            loop = self._loop_thread()
            if client is not None:
                # The client gave up reconnecting; a new one starts afresh.
                self._client = None
                _close_quietly(loop, client)
            address = self._connect_address()
            if not address:
                raise SchedulerUnavailable(
                    "(none)", "no scheduler address is configured"
                )
            try:
                client = loop.run(_connect(address, self.timeout), self.timeout)
            except _CONNECTION_ERRORS as exc:
                raise SchedulerUnavailable(address, _reason(exc)) from None
            logger.info("Connected to scheduler %s", address)
            self._client = client
            return client

    def _run(self, function, *args, timeout: float | None = None):
        client = self.client()
        limit = self.timeout if timeout is None else timeout
        try:
            return self._loop_thread().run(
                _on_scheduler(client, function, *args), limit
            )
        except _CONNECTION_ERRORS as exc:
            raise SchedulerUnavailable(self.address, _reason(exc)) from None
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            raise SchedulerUnavailable(self.address, "the connection closed") from None

    # Snapshot ------------------------------------------------------------------

    def fetch_snapshot(self) -> Snapshot:
        import time

        started = time.perf_counter()
        raw = self._run(scheduler_side.summary)
        elapsed = time.perf_counter() - started
        records = [_worker_fields(w) for w in raw["workers"]]
        identity = json_safe(raw["identity"])
        identity["workers"] = {
            fields["address"]: _worker_identity(fields, raw_name, extra)
            for fields, raw_name, extra in records
        }
        workers = sorted(
            (WorkerSummary(**fields) for fields, _, _ in records),
            key=lambda w: w.name,
        )
        prefixes = tuple(
            PrefixProgress(**p) for p in sorted(raw["prefixes"], key=_prefix_order)
        )
        return Snapshot(
            taken_at=time.time(),
            poll_seconds=elapsed,
            scheduler=SchedulerSummary(**raw["scheduler"]),
            workers=tuple(workers),
            counts=raw["counts"],
            task_states=raw["task_states"],
            prefixes=prefixes,
            task_groups=raw["task_groups"],
            clients=raw["clients"],
            total_threads=raw["total_threads"],
            total_memory=raw["total_memory"],
            identity=identity,
            client_list=tuple(
                ClientSummary(
                    id=c["id"],
                    wants=c["wants"],
                    topic=_topic_tail(c),
                )
                for c in raw.get("client_list", ())
            ),
            all_topic=_topic_tail(raw["all_topic"]) if "all_topic" in raw else None,
        )

    def fetch_task_stream(self, cursor: int) -> tuple[list[TaskStreamRecord], int]:
        records, position = self._run(scheduler_side.task_stream, cursor, STREAM_BATCH)
        return [_stream_record(r) for r in records], position

    def scheduler_metrics(self, max_prefixes: int = 0) -> SchedulerMetrics:
        raw = self._run(scheduler_side.prometheus_numbers, max_prefixes)
        semaphores = raw["semaphores"]
        return SchedulerMetrics(
            clients=raw["clients"],
            client_connections_added=raw["client_connections_added"],
            client_connections_removed=raw["client_connections_removed"],
            desired_workers=raw["desired_workers"],
            workers=[tuple(pair) for pair in raw["workers"]],
            workers_added=raw["workers_added"],
            workers_removed=raw["workers_removed"],
            gil_contention_seconds=raw["gil_contention"],
            gc_collection_seconds=raw["gc_collection"],
            last_time=raw["last_time"],
            tasks=[tuple(pair) for pair in raw["tasks"]],
            tasks_forgotten=raw["tasks_forgotten"],
            task_groups=raw["task_groups"],
            prefixes=[
                PrefixMetrics(
                    name=p["name"],
                    suspicious=p["suspicious"],
                    compute_seconds=p["compute"],
                    transfer_seconds=p["transfer"],
                    nbytes=p["nbytes"],
                    state_totals=p["state_totals"],
                )
                for p in raw["prefixes"]
            ],
            tick_duration_maximum_seconds=raw["tick_duration_maximum"],
            tick_count=raw["tick_count"],
            semaphores=(
                None
                if semaphores is None
                else [SemaphoreMetrics(**s) for s in semaphores]
            ),
            stealing=(
                None
                if raw["stealing"] is None
                else [tuple(row) for row in raw["stealing"]]
            ),
        )

    def worker_metrics(self) -> list[WorkerMetrics]:
        raw = self._run(scheduler_side.worker_prometheus_numbers)
        return sorted((WorkerMetrics(**w) for w in raw), key=lambda w: w.address)

    # Detail --------------------------------------------------------------------

    def worker_detail(
        self, address: str, offset: int = 0, limit: int = 200
    ) -> WorkerDetail:
        summary = self.snapshot().worker(address)
        raw = self._run(scheduler_side.worker_detail, address, offset, limit)
        if raw is None or summary is None:
            raise WorkerNotFound(address)
        return WorkerDetail(
            summary=summary,
            held=[HeldKey(key, nbytes) for key, nbytes in raw["held"]],
            held_total=raw["held_total"],
            processing=[
                ProcessingKey(key, tuple(priority or ()))
                for key, priority in raw["processing"]
            ],
            processing_total=raw["processing_total"],
        )

    def resolve_key(self, candidates: list[Key]) -> Key:
        if not candidates:
            raise TaskNotFound("")
        index = self._run(scheduler_side.resolve_key, candidates)
        if index < 0:
            raise TaskNotFound(str(candidates[0]))
        return candidates[index]

    def task_detail(self, key: Key) -> TaskDetail:
        raw = self._run(scheduler_side.task_detail, key)
        if raw is None:
            raise TaskNotFound(str(key))
        nbytes = raw["nbytes"]
        return TaskDetail(
            key=raw["key"],
            state=raw["state"],
            processing_on=raw["processing_on"],
            type=raw["type"],
            # Dask uses -1 for "not known yet"; show that as unknown.
            nbytes=nbytes if nbytes is not None and nbytes >= 0 else None,
            priority=tuple(raw["priority"]) if raw["priority"] else None,
            waiting_on=_refs(raw["waiting_on"]),
            dependencies=_refs(raw["dependencies"]),
            dependencies_total=raw["dependencies_total"],
            dependents=_refs(raw["dependents"]),
            dependents_total=raw["dependents_total"],
            who_has=raw["who_has"],
            clients=raw["clients"],
            retries=raw["retries"],
            suspicious=raw["suspicious"],
            has_lost_dependencies=raw["has_lost_dependencies"],
            host_restrictions=raw["host_restrictions"],
            worker_restrictions=raw["worker_restrictions"],
            resource_restrictions=raw["resource_restrictions"],
            loose_restrictions=raw["loose_restrictions"],
            metadata=json_safe(raw["metadata"]),
            exception_text=raw["exception_text"],
            traceback_text=raw["traceback_text"],
            story=[
                Transition(
                    key=t["key"],
                    start=t["start"],
                    finish=t["finish"],
                    recommendations=_refs(t["recommendations"]),
                    stimulus_id=t["stimulus_id"],
                    timestamp=t["timestamp"],
                )
                for t in raw["story"]
            ],
        )

    def erred_tasks(self) -> list[ErredTask]:
        return [ErredTask(**r) for r in self._run(scheduler_side.erred_tasks)]

    def scheduler_logs(self, offset: int = 0, max_bytes: int = 1_000_000) -> LogPage:
        return _log_page(self._run(scheduler_side.scheduler_logs, offset, max_bytes))

    def worker_logs(
        self, address: str, offset: int = 0, max_bytes: int = 1_000_000
    ) -> LogPage:
        raw = self._run(
            scheduler_side.worker_logs,
            address,
            offset,
            max_bytes,
            self.worker_timeout,
            timeout=self.timeout + self.worker_timeout,
        )
        _raise_for_worker_status(raw, address, self.worker_timeout)
        return _log_page(raw)

    def worker_call_stacks(self, address: str) -> list[TaskStack]:
        raw = self._run(
            scheduler_side.call_stacks,
            address,
            None,
            self.worker_timeout,
            timeout=self.timeout + self.worker_timeout,
        )
        _raise_for_worker_status(raw, address, self.worker_timeout)
        return _stacks(raw)

    def task_call_stacks(self, key: Key) -> list[TaskStack]:
        raw = self._run(
            scheduler_side.call_stacks,
            None,
            [key],
            self.worker_timeout,
            timeout=self.timeout + self.worker_timeout,
        )
        if raw == "unknown":
            raise TaskNotFound(str(key))
        if raw == "timeout":
            raise WorkerUnresponsive("a worker running this task", self.worker_timeout)
        return _stacks(raw)

    # Live plots ----------------------------------------------------------------

    def scheduler_system(self, start: int = 0) -> dict[str, Any]:
        """
        Fetch the scheduler process's CPU, memory, network and fd samples.

        Returns ``{"count": n, "samples": {field: [values]}}`` with the
        samples taken after the ``start``-th; pass ``count`` next time.
        """
        return self._run(plot_side.system_samples, start)

    def bandwidth(self) -> dict[str, Any]:
        """Fetch the measured bandwidths: total, by type and by worker pair."""
        return self._run(plot_side.bandwidth)

    def task_graph(self, max_items: int, last_counter: int = -1) -> dict[str, Any]:
        """
        Fetch the task graph when it has at most ``max_items`` tasks.

        ``tasks`` and ``edges`` are None when the graph is larger or when
        the scheduler's transition counter still equals ``last_counter``.
        """
        return self._run(plot_side.task_graph, max_items, last_counter)

    def task_groups(self) -> list[dict[str, Any]]:
        """Fetch every task group with state counts and dependency names."""
        return self._run(plot_side.task_groups)

    def profile(self, key: str | None = None, server: bool = False) -> dict[str, Any]:
        """
        Fetch the statistical profile as flame-graph rectangles.

        ``server`` selects the scheduler's own event loop; otherwise the
        workers' task profiles are merged, limited to prefix ``key`` if set.
        """
        return self._run(
            plot_side.profile,
            key,
            server,
            timeout=self.timeout + self.worker_timeout,
        )

    def events(self, topic: str, start: int = 0) -> dict[str, Any]:
        """Fetch the events of ``topic`` published after the ``start``-th."""
        return self._run(plot_side.events, topic, start)

    def counters(self) -> dict[str, dict[str, int]]:
        """Fetch the scheduler's counters: name -> {value: count}."""
        return self._run(plot_side.counters)

    def action_durations(self) -> dict[str, float]:
        """Fetch the seconds spent on each action (compute, transfer, ...)."""
        return self._run(plot_side.action_durations)

    def contention(self) -> dict[str, Any]:
        """Fetch the scheduler's event-loop tick interval and GIL contention."""
        return self._run(plot_side.contention)

    def fine_metrics(self) -> list[list[Any]]:
        """Fetch the workers' cumulative fine performance metrics as rows."""
        return self._run(plot_side.fine_metrics)

    def shuffle_state(self) -> dict[str, Any] | None:
        """Fetch the newest P2P shuffle's per-worker buffers, or None."""
        return self._run(plot_side.shuffle_state)

    def benchmark_hardware(self, timeout: float = 120.0) -> dict[str, Any]:
        """Run Dask's hardware benchmark on every worker; bytes/s by size."""
        return self._run(plot_side.benchmark_hardware, timeout=timeout)

    # One worker's own pages ----------------------------------------------------

    def call_worker(self, address: str, name: str, *args: Any) -> Any:
        """
        Run ``worker_side.<name>`` on one worker, through the scheduler.

        The scheduler bounds the wait for the worker by ``worker_timeout``
        and cancels the call when it runs out.
        """
        if name not in WORKER_SIDE_CALLS:
            raise ValueError(f"Unknown worker-side call {name!r}")
        function = cloudpickle.dumps(getattr(worker_side, name))
        raw = self._run(
            worker_side.forward,
            address,
            function,
            cloudpickle.dumps(tuple(args)),
            self.worker_timeout,
            timeout=self.timeout + self.worker_timeout,
        )
        _raise_for_worker_status(raw, address, self.worker_timeout)
        if "error" in raw:
            raise BackendError(
                f"Worker {address} failed the call {name}: {raw['error']}"
            )
        return raw["result"]


class _LoopThread:
    """An asyncio event loop running in a daemon thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="clusterdash-dask", daemon=True
        )
        self._thread.start()

    def run(self, coroutine, timeout: float):
        """Run ``coroutine`` on the loop; cancel it after ``timeout`` seconds."""
        future = asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(coroutine, timeout), self.loop
        )
        try:
            return future.result(timeout + 1.0)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"timed out after {timeout:g} s") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(2.0)


async def _on_scheduler(client: Client, function, *args):
    # Called on the client's loop, so run_on_scheduler returns an awaitable.
    return await client.run_on_scheduler(function, *args)


async def _connect(address: str, timeout: float) -> Client:
    # distributed bounds the TCP connect by ``timeout`` but not the
    # handshake that follows, so the caller's wait_for bounds the whole
    # start; a client that did not finish starting is closed here.
    restore_method_pickling()
    client = Client(
        address,
        asynchronous=True,
        timeout=timeout,
        set_as_default=False,
        name="clusterdash",
    )
    try:
        return await client
    except BaseException:
        await asyncio.shield(_close_after_failure(client))
        raise


async def _close_after_failure(client: Client) -> None:
    try:
        await client.close(timeout=1)
    except Exception:
        logger.debug("Closing a client that failed to start failed", exc_info=True)


def _close_quietly(loop: _LoopThread, client: Client) -> None:
    try:
        loop.run(client.close(timeout=1), 2.0)
    except Exception:
        logger.debug("Closing a disconnected client failed", exc_info=True)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return text or "timed out"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _raise_for_worker_status(raw: Any, address: str, timeout: float) -> None:
    if raw == "unknown":
        raise WorkerNotFound(address)
    if raw == "timeout":
        raise WorkerUnresponsive(address, timeout)


def _worker_fields(raw: dict[str, Any]) -> tuple[dict[str, Any], Any, dict]:
    """Split a worker record into WorkerSummary fields, its raw name and extras."""
    fields = dict(raw)
    raw_name = fields.pop("raw_name", fields["name"])
    extra = fields.pop("extra", {})
    fields["metrics"] = json_safe(fields["metrics"])
    return fields, raw_name, extra


def _worker_identity(fields: dict[str, Any], raw_name: Any, extra: dict) -> dict:
    """Return a worker's entry of Dask's identity document, as Dask builds it."""
    name = json_safe(raw_name)
    return {
        "type": "Worker",
        "id": name,
        "host": fields["host"],
        "resources": json_safe(fields["resources"]),
        "local_directory": fields["local_directory"],
        "name": name,
        "nthreads": fields["nthreads"],
        "memory_limit": fields["memory_limit"],
        "last_seen": fields["last_seen"],
        "services": json_safe(fields["services"]),
        "metrics": fields["metrics"],
        "status": fields["status"],
        "nanny": fields["nanny"],
        **json_safe(extra),
    }


def _topic_tail(raw: dict[str, Any]) -> TopicTail:
    return TopicTail(
        raw["events_total"],
        tuple(raw["recent_actions"]),
        tuple(raw.get("subjects", ())),
    )


def _stream_record(raw: dict[str, Any]) -> TaskStreamRecord:
    prefix = key_split(raw["key"])
    return TaskStreamRecord(**raw, prefix=prefix, prefix_color=color_of(prefix))


def _prefix_order(raw: dict[str, Any]) -> tuple:
    return (raw["name"],)


def _refs(pairs: list) -> list[TaskRef]:
    return [TaskRef(key, str(state)) for key, state in pairs]


def _log_page(raw: dict[str, Any]) -> LogPage:
    return LogPage(
        records=[LogRecord(level, message) for level, message in raw["records"]],
        total=raw["total"],
        offset=raw["offset"],
        cut_lines=raw["cut_lines"],
    )


def _stacks(raw: dict[str, dict]) -> list[TaskStack]:
    stacks = []
    for worker, by_key in sorted(raw.items()):
        for key, frames in (by_key or {}).items():
            lines = [StackFrame(str(frame)) for frame in frames or ()]
            stacks.append(TaskStack(worker=worker, key=key, frames=lines))
    return stacks


def json_safe(value: Any) -> Any:
    """
    Return ``value`` with only JSON types: str keys, lists, finite numbers.

    Tuple dict keys (Dask's fine performance metrics use them) are joined
    with ``-``; sets become sorted lists; bytes and other objects become
    their text; NaN and infinities become None.
    """
    if isinstance(value, dict):
        return {_json_key(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((json_safe(v) for v in value), key=str)
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, tuple):
        return "-".join(str(part) for part in key)
    return str(key)
