"""
The interface between the site and a source of cluster state.

A backend answers two kinds of question. The shared snapshot (workers,
counts, per-prefix progress, recent task-stream records) is fetched by one
poller per process at a fixed interval while anyone reads it, so the
scheduler's cost does not grow with the number of viewers. Detail
questions (one worker, one task, one log) are fetched on demand.

Subclasses implement the methods that raise ``NotImplementedError``; the
rest have working defaults. Every method that talks to the cluster raises
``SchedulerUnavailable`` when the scheduler cannot be reached in time, and
the lookups raise ``WorkerNotFound`` or ``TaskNotFound`` for an unknown
worker or key. Each blocking method has an ``a``-prefixed coroutine twin
that runs it in a thread, for async views and consumers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from asgiref.sync import sync_to_async

from .exceptions import SchedulerUnavailable
from .types import (
    ErredTask,
    Key,
    LogPage,
    SchedulerMetrics,
    Snapshot,
    TaskDetail,
    TaskStack,
    TaskStreamRecord,
    WorkerDetail,
    WorkerMetrics,
)

logger = logging.getLogger(__name__)


class ClusterBackend:
    """
    Base class of cluster-state backends.

    ``options`` is the ``OPTIONS`` dict of the ``CLUSTERDASH_BACKEND``
    setting. The keys every backend understands:

    ``poll_interval``
        Seconds between snapshot polls (default 0.5).
    ``timeout``
        Seconds any one call to the scheduler may take (default 2).
    ``worker_timeout``
        Seconds a call that the scheduler forwards to a worker may take
        (default 3).
    ``idle_after``
        Seconds without a reader after which the poller stops (default 30).
    ``task_stream_length``
        Task-stream records kept in this process (default 100000).
    """

    def __init__(self, options: dict[str, Any] | None = None):
        options = dict(options or {})
        self.options = options
        self.poll_interval = float(options.get("poll_interval", 0.5))
        self.timeout = float(options.get("timeout", 2.0))
        self.worker_timeout = float(options.get("worker_timeout", 3.0))
        self.idle_after = float(options.get("idle_after", 30.0))
        self._poller = SnapshotPoller(
            self, int(options.get("task_stream_length", 100_000))
        )

    # Identity --------------------------------------------------------------

    @property
    def address(self) -> str:
        """Return the scheduler address that error pages name."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the poller and release connections; safe to call twice."""
        self._poller.stop()

    # Shared snapshot -------------------------------------------------------

    def fetch_snapshot(self) -> Snapshot:
        """
        Fetch a fresh summary from the scheduler.

        Called by the poller only; everything else reads ``snapshot()``.
        Must cost O(workers + task groups) on the scheduler, never a scan
        of every task.
        """
        raise NotImplementedError

    def fetch_task_stream(self, cursor: int) -> tuple[list[TaskStreamRecord], int]:
        """
        Return task-stream records after ``cursor`` and the next cursor.

        Called by the poller only. The default has no task stream.
        """
        return [], cursor

    def snapshot(self) -> Snapshot:
        """
        Return the latest shared snapshot, starting the poller if needed.

        Raises ``SchedulerUnavailable`` when no poll has succeeded recently.
        """
        return self._poller.read()

    def task_stream(self, since: int = 0) -> tuple[list[TaskStreamRecord], int]:
        """
        Return the records this process has kept after position ``since``.

        The second value is the position to pass next time. Records older
        than the kept window are skipped silently.
        """
        return self._poller.task_stream(since)

    def check_scheduler(self) -> None:
        """
        Call the scheduler once, bypassing the shared snapshot.

        Raises ``SchedulerUnavailable`` when it does not respond in time. The
        default fetches one snapshot, which costs O(workers + task groups).
        """
        self.fetch_snapshot()

    # On-demand detail ------------------------------------------------------

    def worker_detail(
        self, address: str, offset: int = 0, limit: int = 200
    ) -> WorkerDetail:
        """
        Return one worker with up to ``limit`` held keys from ``offset``.

        Held keys come sorted by their text. Raises ``WorkerNotFound``.
        """
        raise NotImplementedError

    def resolve_key(self, candidates: list[Key]) -> Key:
        """
        Return the first of ``candidates`` that the scheduler holds.

        Raises ``TaskNotFound`` naming the first candidate when none exists.
        """
        raise NotImplementedError

    def task_detail(self, key: Key) -> TaskDetail:
        """Return everything the task page shows. Raises ``TaskNotFound``."""
        raise NotImplementedError

    def erred_tasks(self) -> list[ErredTask]:
        """Return the scheduler's retained failures, newest first."""
        return []

    def scheduler_logs(self, offset: int = 0, max_bytes: int = 1_000_000) -> LogPage:
        """
        Return the scheduler's log records, newest first, from ``offset``.

        The slice stops before ``max_bytes`` of text; see ``LogPage``.
        """
        return LogPage([], 0, offset, 0)

    def worker_logs(
        self, address: str, offset: int = 0, max_bytes: int = 1_000_000
    ) -> LogPage:
        """
        Return one worker's log records, newest first, like ``scheduler_logs``.

        Raises ``WorkerNotFound`` for an unknown address and
        ``WorkerUnresponsive`` when the worker does not answer in time.
        """
        raise NotImplementedError

    def worker_call_stacks(self, address: str) -> list[TaskStack]:
        """
        Return the call stacks of the tasks running on one worker.

        Raises ``WorkerNotFound`` or ``WorkerUnresponsive``.
        """
        raise NotImplementedError

    def task_call_stacks(self, key: Key) -> list[TaskStack]:
        """
        Return the call stacks of ``key`` or of the running tasks it waits on.

        An empty list means nothing is running for it. Raises
        ``TaskNotFound``.
        """
        raise NotImplementedError

    def scheduler_metrics(self, max_prefixes: int = 0) -> SchedulerMetrics:
        """
        Fetch the numbers behind Dask's scheduler metric families.

        Fetched afresh on each call, without changing scheduler state.
        ``max_prefixes`` caps the per-prefix entries (0 for no cap); the
        least active prefixes are summed into one named ``other``.
        """
        raise NotImplementedError

    def worker_metrics(self) -> list[WorkerMetrics]:
        """Fetch the numbers behind Dask's worker families, for every worker."""
        raise NotImplementedError

    # Live plots (plain dicts, fetched on demand) ------------------------------

    def scheduler_system(self, start: int = 0) -> dict[str, Any]:
        """Fetch the scheduler process's system samples taken after ``start``."""
        raise NotImplementedError

    def bandwidth(self) -> dict[str, Any]:
        """Fetch the measured bandwidths: total, by type and by worker pair."""
        raise NotImplementedError

    def task_graph(self, max_items: int, last_counter: int = -1) -> dict[str, Any]:
        """Fetch the task graph when it has at most ``max_items`` tasks."""
        raise NotImplementedError

    def task_groups(self) -> list[dict[str, Any]]:
        """Fetch every task group with state counts and dependency names."""
        raise NotImplementedError

    def profile(self, key: str | None = None, server: bool = False) -> dict[str, Any]:
        """Fetch the workers' or the scheduler's profile as flame-graph data."""
        raise NotImplementedError

    def events(self, topic: str, start: int = 0) -> dict[str, Any]:
        """Fetch the events of ``topic`` published after the ``start``-th."""
        raise NotImplementedError

    def counters(self) -> dict[str, dict[str, int]]:
        """Fetch the scheduler's counters: name -> {value: count}."""
        raise NotImplementedError

    def action_durations(self) -> dict[str, float]:
        """Fetch the seconds spent on each action (compute, transfer, ...)."""
        raise NotImplementedError

    def contention(self) -> dict[str, Any]:
        """Fetch the scheduler's event-loop tick interval and GIL contention."""
        raise NotImplementedError

    def fine_metrics(self) -> list[list[Any]]:
        """Fetch the workers' cumulative fine performance metrics as rows."""
        raise NotImplementedError

    def shuffle_state(self) -> dict[str, Any] | None:
        """Fetch the newest P2P shuffle's per-worker buffers, or None."""
        raise NotImplementedError

    def benchmark_hardware(self, timeout: float = 120.0) -> dict[str, Any]:
        """Run a hardware benchmark on every worker; bytes/s by size."""
        raise NotImplementedError

    # One worker's own pages ----------------------------------------------------

    def call_worker(self, address: str, name: str, *args: Any) -> Any:
        """
        Fetch the worker-side answer ``name`` from the worker at ``address``.

        ``name`` is one of ``status``, ``counters``, ``task_records``,
        ``system_samples``, ``profile``, ``prometheus_numbers`` and
        ``health``; ``DaskBackend`` documents their shapes in its
        ``worker_side`` module. The call is bounded by ``worker_timeout``.
        Raises ``WorkerNotFound`` for an address that is not a current
        worker and ``WorkerUnresponsive`` when the worker does not answer
        in time.
        """
        raise NotImplementedError

    async def acall_worker(self, address: str, name: str, *args: Any) -> Any:
        """Run ``call_worker`` in a thread."""
        return await _in_thread(self.call_worker, address, name, *args)

    # Coroutine twins ---------------------------------------------------------

    async def acheck_scheduler(self) -> None:
        """Run ``check_scheduler`` in a thread."""
        await _in_thread(self.check_scheduler)

    async def atask_stream(self, since: int = 0) -> tuple[list[TaskStreamRecord], int]:
        """Run ``task_stream`` in a thread."""
        return await _in_thread(self.task_stream, since)

    async def asnapshot(self) -> Snapshot:
        """Run ``snapshot`` in a thread."""
        return await _in_thread(self.snapshot)

    async def aworker_detail(
        self, address: str, offset: int = 0, limit: int = 200
    ) -> WorkerDetail:
        """Run ``worker_detail`` in a thread."""
        return await _in_thread(self.worker_detail, address, offset, limit)

    async def aresolve_key(self, candidates: list[Key]) -> Key:
        """Run ``resolve_key`` in a thread."""
        return await _in_thread(self.resolve_key, candidates)

    async def atask_detail(self, key: Key) -> TaskDetail:
        """Run ``task_detail`` in a thread."""
        return await _in_thread(self.task_detail, key)

    async def aerred_tasks(self) -> list[ErredTask]:
        """Run ``erred_tasks`` in a thread."""
        return await _in_thread(self.erred_tasks)

    async def ascheduler_logs(
        self, offset: int = 0, max_bytes: int = 1_000_000
    ) -> LogPage:
        """Run ``scheduler_logs`` in a thread."""
        return await _in_thread(self.scheduler_logs, offset, max_bytes)

    async def aworker_logs(
        self, address: str, offset: int = 0, max_bytes: int = 1_000_000
    ) -> LogPage:
        """Run ``worker_logs`` in a thread."""
        return await _in_thread(self.worker_logs, address, offset, max_bytes)

    async def aworker_call_stacks(self, address: str) -> list[TaskStack]:
        """Run ``worker_call_stacks`` in a thread."""
        return await _in_thread(self.worker_call_stacks, address)

    async def atask_call_stacks(self, key: Key) -> list[TaskStack]:
        """Run ``task_call_stacks`` in a thread."""
        return await _in_thread(self.task_call_stacks, key)


async def _in_thread(function, *args):
    # thread_sensitive=False: a slow worker must not hold up the single
    # thread that Django runs every other synchronous view in.
    return await sync_to_async(function, thread_sensitive=False)(*args)


class SnapshotPoller:
    """
    Fetch the backend's snapshot at a fixed interval while anyone reads it.

    The first read starts a daemon thread. The thread stops by itself once
    nobody has read for ``backend.idle_after`` seconds, and the next read
    starts it again, so an unwatched dashboard costs the scheduler nothing.
    """

    def __init__(self, backend: ClusterBackend, stream_length: int):
        self._backend = backend
        self._lock = threading.Lock()
        self._fresh = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._snapshot: Snapshot | None = None
        self._error: SchedulerUnavailable | None = None
        self._last_read = 0.0
        self._polls = 0
        self._stream: deque[TaskStreamRecord] = deque(maxlen=stream_length)
        self._stream_end = 0
        self._stream_cursor: int | None = None
        self._failures_logged = 0

    @property
    def polls(self) -> int:
        """Number of polls made since the process started."""
        return self._polls

    def read(self) -> Snapshot:
        with self._lock:
            self._last_read = time.monotonic()
            self._ensure_running()
            if self._snapshot is None and self._error is None:
                # First read: wait for the first poll, bounded by the timeout
                # the poll itself is bounded by.
                self._fresh.wait(self._backend.timeout + 1.0)
            if self._error is not None:
                raise self._error
            if self._snapshot is None:
                raise SchedulerUnavailable(
                    self._backend.address, "no answer to the first poll yet"
                )
            return self._snapshot

    def task_stream(self, since: int) -> tuple[list[TaskStreamRecord], int]:
        with self._lock:
            self._last_read = time.monotonic()
            self._ensure_running()
            first = self._stream_end - len(self._stream)
            start = max(since, first) - first
            records = list(self._stream)[start:] if start < len(self._stream) else []
            return records, self._stream_end

    def stop(self) -> None:
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._backend.timeout + 1.0)

    def _ensure_running(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="clusterdash-snapshot", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        backend = self._backend
        while not self._stopping.is_set():
            started = time.monotonic()
            self._poll_once()
            with self._lock:
                idle = time.monotonic() - self._last_read > backend.idle_after
                if idle:
                    # Clear the thread under the lock, so a concurrent read
                    # starts a new one instead of relying on this one.
                    self._thread = None
                    self._snapshot = None
                    self._error = None
                    return
            elapsed = time.monotonic() - started
            self._stopping.wait(max(backend.poll_interval - elapsed, 0.0))

    def _poll_once(self) -> None:
        backend = self._backend
        try:
            snapshot = backend.fetch_snapshot()
            previous = self._snapshot
            if previous is not None and previous.scheduler.id != snapshot.scheduler.id:
                # A restarted scheduler counts task-stream records from zero.
                self._stream_cursor = None
            records, cursor = self._fetch_stream()
        except SchedulerUnavailable as exc:
            self._record_failure(exc)
            return
        except Exception as exc:
            logger.exception("Snapshot poll of %s failed", backend.address)
            self._record_failure(SchedulerUnavailable(backend.address, str(exc)))
            return
        with self._lock:
            if self._failures_logged:
                logger.info("Scheduler %s answers again", backend.address)
            self._failures_logged = 0
            self._snapshot = snapshot
            self._error = None
            self._polls += 1
            self._stream.extend(records)
            self._stream_end += len(records)
            self._stream_cursor = cursor
            self._fresh.notify_all()

    def _fetch_stream(self) -> tuple[list[TaskStreamRecord], int]:
        cursor = self._stream_cursor
        if cursor is None:
            # Start at the scheduler's current position: history from before
            # this process started is not replayed into every plot.
            _, cursor = self._backend.fetch_task_stream(-1)
            return [], cursor
        return self._backend.fetch_task_stream(cursor)

    def _record_failure(self, error: SchedulerUnavailable) -> None:
        with self._lock:
            # Log the first failure and then every hundredth, so a scheduler
            # that stays down does not flood the log at two lines a second.
            if self._failures_logged % 100 == 0:
                logger.warning(
                    "Cannot reach scheduler %s: %s", error.address, error.reason
                )
            self._failures_logged += 1
            self._error = error
            self._stream_cursor = None
            self._fresh.notify_all()
