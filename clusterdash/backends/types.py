"""
Plain data that a cluster backend hands to the rest of the site.

Nothing here refers to Dask objects: pages, plots, metrics and consumers
read these records, so any backend that fills them in can serve the site.
Task keys are kept as Python values (``str``, ``int``, ``float`` or nested
``tuple`` of those); ``clusterdash.keys`` turns them into URL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Key = str | int | float | tuple

#: Field order of Dask's ``/json/counts.json``, which clients rely on.
COUNT_FIELDS = (
    "bytes",
    "clients",
    "cores",
    "erred",
    "hosts",
    "idle",
    "memory",
    "processing",
    "released",
    "saturated",
    "tasks",
    "unrunnable",
    "waiting",
    "waiting_data",
    "workers",
    "desired_workers",
)

#: Scheduler task states, in the order the progress tables show them.
TASK_STATES = (
    "released",
    "waiting",
    "queued",
    "processing",
    "no-worker",
    "memory",
    "erred",
    "forgotten",
)


@dataclass(frozen=True, slots=True)
class WorkerSummary:
    """One worker as the scheduler saw it at the last poll."""

    address: str
    name: str
    host: str
    nthreads: int
    memory_limit: int
    #: Resident set size of the worker process, in bytes.
    memory: int
    #: Bytes of task results the scheduler attributes to this worker.
    managed_bytes: int
    spilled_bytes: int
    #: CPU use in percent of one core.
    cpu: float
    #: Expected seconds of work queued on this worker.
    occupancy: float
    processing: int
    executing: int
    in_memory: int
    #: Unix time of the last heartbeat, on the scheduler's clock.
    last_seen: float
    status: str
    idle: bool
    saturated: bool
    num_fds: int
    read_bps: float
    write_bps: float
    services: dict[str, int] = field(default_factory=dict)
    resources: dict[str, float] = field(default_factory=dict)
    used_resources: dict[str, float] = field(default_factory=dict)
    nanny: str | None = None
    pid: int | None = None
    local_directory: str = ""
    #: The worker's latest heartbeat metrics, made JSON-safe.
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PrefixProgress:
    """Task counts by state for one task prefix (for example ``inc``)."""

    name: str
    states: dict[str, int]
    nbytes: int
    #: Seconds spent computing tasks of this prefix so far.
    compute_seconds: float
    #: Number of task groups that currently belong to this prefix.
    groups: int

    @property
    def total(self) -> int:
        """Number of tasks the scheduler currently holds for this prefix."""
        return sum(
            count for state, count in self.states.items() if state != "forgotten"
        )


@dataclass(frozen=True, slots=True)
class SchedulerSummary:
    """Who the scheduler is."""

    address: str
    id: str
    started: float
    services: dict[str, int]
    type: str = "Scheduler"


@dataclass(frozen=True, slots=True)
class TopicTail:
    """The event count of one scheduler event topic and its newest actions."""

    #: Events ever published to the topic; it only grows.
    events_total: int
    #: ``action`` fields of the newest events, oldest first.
    recent_actions: tuple[str, ...]
    #: The worker address or client id each of those events names, or "".
    recent_subjects: tuple[str, ...] = ()

    def new_actions(self, previous: TopicTail | None) -> tuple[str, ...]:
        """Return the actions published since ``previous`` was taken."""
        return tuple(action for action, _ in self.new_events(previous))

    def new_events(self, previous: TopicTail | None) -> list[tuple[str, str]]:
        """
        Return ``(action, subject)`` of the events since ``previous``.

        Events older than the kept tail are missing from the result.
        """
        if previous is None:
            return []
        count = self.events_total - previous.events_total
        if count <= 0:
            return []
        subjects = self.recent_subjects or ("",) * len(self.recent_actions)
        return list(zip(self.recent_actions, subjects, strict=True))[-count:]


@dataclass(frozen=True, slots=True)
class ClientSummary:
    """One client connected to the scheduler."""

    id: str
    #: Number of keys the client has futures for.
    wants: int
    #: Events of the client's own topic (graph submissions among them).
    topic: TopicTail


@dataclass(frozen=True, slots=True)
class Snapshot:
    """
    The shared summary of the cluster that one poll produced.

    Every page, plot, metric and consumer in a process reads the same
    snapshot, so the scheduler's cost does not grow with the number of
    viewers. ``workers`` is sorted by ``str(name)``, as Dask's tables are.
    """

    taken_at: float
    #: Seconds the poll took, measured in the dashboard process.
    poll_seconds: float
    scheduler: SchedulerSummary
    workers: tuple[WorkerSummary, ...]
    #: Dask's ``counts.json`` fields, in ``COUNT_FIELDS`` order.
    counts: dict[str, int]
    #: Number of tasks in each scheduler state, over the whole cluster.
    task_states: dict[str, int]
    prefixes: tuple[PrefixProgress, ...]
    task_groups: int
    #: Clients connected to the scheduler, not counting Dask's
    #: ``fire-and-forget`` placeholder.
    clients: int
    total_threads: int
    total_memory: int
    #: Dask's ``identity()`` document, made JSON-safe.
    identity: dict[str, Any]
    #: Connected clients, without Dask's ``fire-and-forget`` placeholder.
    client_list: tuple[ClientSummary, ...] = ()
    #: Event count and newest actions of the scheduler's ``all`` topic.
    all_topic: TopicTail | None = None

    def worker(self, address: str) -> WorkerSummary | None:
        """Return the worker with this address, or None."""
        for worker in self.workers:
            if worker.address == address:
                return worker
        return None


@dataclass(frozen=True, slots=True)
class TaskRef:
    """A task key with the state it had when it was read."""

    key: Key
    state: str


@dataclass(frozen=True, slots=True)
class HeldKey:
    """A key held in a worker's memory."""

    key: Key
    nbytes: int


@dataclass(frozen=True, slots=True)
class ProcessingKey:
    """A key assigned to a worker, with the scheduler's priority tuple."""

    key: Key
    priority: tuple


@dataclass(frozen=True, slots=True)
class WorkerDetail:
    """One worker with a page of the keys it holds."""

    summary: WorkerSummary
    held: list[HeldKey]
    #: Number of keys the worker holds in all, across every page.
    held_total: int
    processing: list[ProcessingKey]
    processing_total: int


@dataclass(frozen=True, slots=True)
class Transition:
    """One record of the scheduler's transition log."""

    key: Key
    start: str
    finish: str
    recommendations: list[TaskRef]
    stimulus_id: str
    #: Unix time on the scheduler's clock.
    timestamp: float


@dataclass(frozen=True, slots=True)
class TaskDetail:
    """Everything the task page shows about one task."""

    key: Key
    state: str
    processing_on: str | None
    type: str | None
    #: Size of the result in bytes, or None where the scheduler does not
    #: know it yet.
    nbytes: int | None
    priority: tuple | None
    waiting_on: list[TaskRef]
    dependencies: list[TaskRef]
    dependencies_total: int
    dependents: list[TaskRef]
    dependents_total: int
    who_has: list[str]
    clients: list[str]
    retries: int
    suspicious: int
    has_lost_dependencies: bool
    host_restrictions: list[str]
    worker_restrictions: list[str]
    resource_restrictions: dict[str, float]
    loose_restrictions: bool
    metadata: dict[str, Any]
    exception_text: str
    traceback_text: str
    story: list[Transition]


@dataclass(frozen=True, slots=True)
class ErredTask:
    """A task that failed, as the scheduler's bounded history keeps it."""

    key: Key
    timestamp: float
    workers: list[str]
    exception_text: str
    traceback_text: str

    @property
    def exception_type(self) -> str:
        """Return the exception class name from the text, for grouping."""
        head = self.exception_text.split("(", 1)[0].split(":", 1)[0]
        return head.strip() or "Exception"


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line from the scheduler or a worker."""

    level: str
    message: str


@dataclass(frozen=True, slots=True)
class LogPage:
    """A slice of a log, newest record first, bounded in size."""

    records: list[LogRecord]
    #: Records the scheduler or worker holds in all.
    total: int
    #: Records skipped before this slice (newer ones).
    offset: int
    #: Lines in this slice that were cut to the line length limit.
    cut_lines: int

    @property
    def remaining(self) -> int:
        """Return how many older records follow this slice."""
        return max(self.total - self.offset - len(self.records), 0)


@dataclass(frozen=True, slots=True)
class StackFrame:
    """One frame of a running task's call stack, as the worker formats it."""

    text: str


@dataclass(frozen=True, slots=True)
class TaskStack:
    """The call stack of one task running on one worker."""

    worker: str
    key: Key
    frames: list[StackFrame]


@dataclass(frozen=True, slots=True)
class TaskStreamRecord:
    """One finished task, with the time ranges it spent on each action."""

    key: Key
    worker: str
    status: str
    nbytes: int
    typename: str
    thread: int
    #: Dicts with ``action``, ``start``, ``stop`` and, for transfers,
    #: ``source``; times are unix seconds.
    startstops: list[dict[str, Any]]
    #: Id of the event that finished the task, such as ``task-finished-…``.
    stimulus_id: str = ""
    #: Text of the exception of a failed task; empty when it succeeded.
    exception_text: str = ""
    #: Task prefix (``inc`` for ``inc-abc123``), as Dask's ``key_split`` gives.
    prefix: str = ""
    #: The prefix's colour in Dask's task-stream palette, such as ``#45BF6F``.
    prefix_color: str = ""


@dataclass(frozen=True, slots=True)
class PrefixMetrics:
    """Cumulative numbers of one task prefix, for the Prometheus families."""

    name: str
    suspicious: int
    compute_seconds: float
    transfer_seconds: float
    nbytes: int
    #: Transitions into each state ever made by tasks of this prefix.
    state_totals: dict[str, int]


@dataclass(frozen=True, slots=True)
class SemaphoreMetrics:
    """One distributed semaphore's lease numbers."""

    name: str
    max_leases: int
    active_leases: int
    pending_leases: int
    acquire_total: int
    release_total: int
    average_pending_lease_time: float


@dataclass(frozen=True, slots=True)
class SchedulerMetrics:
    """
    The numbers behind Dask's ``dask_scheduler_*`` and extension families.

    Read at scrape time, not from the shared snapshot, so counters are as
    fresh as Dask's own endpoint. Lists of pairs keep Dask's output order.
    """

    clients: int
    client_connections_added: int
    client_connections_removed: int
    desired_workers: int
    workers: list[tuple[str, int]]
    workers_added: int
    workers_removed: int
    #: Seconds the GIL was held, or None where GIL monitoring is off.
    gil_contention_seconds: float | None
    gc_collection_seconds: float
    #: The scheduler's system-monitor clock at its last sample.
    last_time: float
    tasks: list[tuple[str, int]]
    tasks_forgotten: int
    task_groups: int
    prefixes: list[PrefixMetrics]
    tick_duration_maximum_seconds: float
    tick_count: int
    #: None where the scheduler runs without the semaphore extension.
    semaphores: list[SemaphoreMetrics] | None
    #: ``(cost_multiplier, request_count, request_cost)``; None without the
    #: work-stealing extension.
    stealing: list[tuple[str, float, float]] | None


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """One worker's numbers for Dask's ``dask_worker_*`` families."""

    address: str
    #: Tasks by worker-side state; states with no task are left out.
    tasks: dict[str, int]
    threads: int
    #: Bytes by ``managed``, ``unmanaged`` and ``spilled``.
    memory: dict[str, int]
    #: Dask's transfer counters: ``incoming_bytes``, ``incoming_count``,
    #: ``incoming_count_total`` and the same for ``outgoing``.
    transfer: dict[str, float]
