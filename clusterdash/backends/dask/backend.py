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
import logging
import math
import threading
from typing import Any

import cloudpickle
from distributed import Client
from distributed.comm.core import CommClosedError

from ..base import ClusterBackend
from ..exceptions import (
    SchedulerUnavailable,
    TaskNotFound,
    WorkerNotFound,
    WorkerUnresponsive,
)
from ..types import (
    ErredTask,
    HeldKey,
    Key,
    LogPage,
    LogRecord,
    PrefixProgress,
    ProcessingKey,
    SchedulerSummary,
    Snapshot,
    StackFrame,
    TaskDetail,
    TaskRef,
    TaskStack,
    TaskStreamRecord,
    Transition,
    WorkerDetail,
    WorkerSummary,
)
from . import scheduler_side

# The scheduler host does not have clusterdash installed, so its functions
# travel as code rather than as an import path.
cloudpickle.register_pickle_by_value(scheduler_side)

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

    @property
    def address(self) -> str:
        return self._address

    def close(self) -> None:
        super().close()
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close(timeout=self.timeout)
            except Exception:
                logger.debug("Closing the client of %s failed", self.address)

    # Connection --------------------------------------------------------------

    def _connect_address(self) -> str:
        return self._address

    def client(self) -> Client:
        """
        Return the process's client, connecting or reconnecting as needed.

        Raises ``SchedulerUnavailable`` when the scheduler cannot be reached
        within the timeout.
        """
        with self._client_lock:
            client = self._client
            if client is not None and client.status in ("running", "connecting"):
                return client
            if client is not None:
                # The client gave up reconnecting; a new one starts afresh.
                self._client = None
                _close_quietly(client)
            address = self._connect_address()
            if not address:
                raise SchedulerUnavailable(
                    "(none)", "no scheduler address is configured"
                )
            try:
                client = Client(
                    address,
                    timeout=self.timeout,
                    set_as_default=False,
                    name="clusterdash",
                )
            except _CONNECTION_ERRORS as exc:
                raise SchedulerUnavailable(address, _reason(exc)) from None
            logger.info("Connected to scheduler %s", address)
            self._client = client
            return client

    def _run(self, function, *args, timeout: float | None = None):
        client = self.client()
        limit = self.timeout if timeout is None else timeout
        try:
            return client.run_on_scheduler(function, *args, callback_timeout=limit)
        except _CONNECTION_ERRORS as exc:
            raise SchedulerUnavailable(self.address, _reason(exc)) from None
        except asyncio.CancelledError:
            raise SchedulerUnavailable(self.address, "the connection closed") from None

    # Snapshot ------------------------------------------------------------------

    def fetch_snapshot(self) -> Snapshot:
        import time

        started = time.perf_counter()
        raw = self._run(scheduler_side.summary)
        elapsed = time.perf_counter() - started
        workers = sorted(
            (WorkerSummary(**_worker_fields(w)) for w in raw["workers"]),
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
            identity=json_safe(raw["identity"]),
        )

    def fetch_task_stream(self, cursor: int) -> tuple[list[TaskStreamRecord], int]:
        records, position = self._run(scheduler_side.task_stream, cursor, STREAM_BATCH)
        return [TaskStreamRecord(**r) for r in records], position

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


def _close_quietly(client: Client) -> None:
    try:
        client.close(timeout=1)
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


def _worker_fields(raw: dict[str, Any]) -> dict[str, Any]:
    fields = dict(raw)
    fields["metrics"] = json_safe(fields["metrics"])
    return fields


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
