"""
Functions that run inside one worker process, for the per-worker pages.

The scheduler forwards them with ``forward`` (itself run on the scheduler),
so the worker needs no HTTP server or Bokeh of its own and the site needs
no route to the worker. Both travel pickled by value, because neither host
has clusterdash installed, and so they import nothing from the
``clusterdash`` package. Each returns plain builtins and reads worker state
only: no call here resets a counter or takes a monitor sample.
"""

import asyncio
import time

#: Samples of the worker's system monitor returned at most per call.
MAX_SYSTEM_SAMPLES = 1000

#: Task records returned at most per call, newest first.
MAX_TASK_RECORDS = 1000

#: Transfer-log entries returned at most per direction.
MAX_TRANSFERS = 500

SYSTEM_FIELDS = (
    "time",
    "cpu",
    "memory",
    "host_net_io.read_bps",
    "host_net_io.write_bps",
    "num_fds",
)


async def forward(address, function, args, timeout, dask_scheduler=None):
    """
    Run a pickled ``function`` on worker ``address``, bounded by ``timeout``.

    Return ``{"result": value}``, or the status string ``"unknown"`` when
    the scheduler has no such worker, ``"timeout"`` when it does not reply
    in time, or ``"error"`` with the text when the call failed. Leaving
    ``wait_for`` cancels the outstanding call, so a frozen worker does not
    keep a coroutine on the scheduler.
    """
    if address not in dask_scheduler.workers:
        return "unknown"
    message = {"op": "run", "function": function, "args": args, "wait": True}
    try:
        answers = await asyncio.wait_for(
            dask_scheduler.broadcast(msg=message, workers=[address], on_error="raise"),
            timeout,
        )
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    answer = answers.get(address)
    if not isinstance(answer, dict) or answer.get("status") != "OK":
        text = answer.get("exception_text") if isinstance(answer, dict) else answer
        return {"error": str(text)}
    return {"result": answer["result"]}


def status(dask_worker=None):
    """Return the worker's task-state counts and its recent transfers."""
    worker = dask_worker
    state = worker.state
    return {
        "time": time.time(),
        "nthreads": int(state.nthreads),
        "stored": len(worker.data),
        "executing": int(state.executing_count),
        "ready": len(state.ready),
        "waiting": len(state.waiting),
        "constrained": len(state.constrained),
        "connections": int(state.transfer_incoming_count),
        "serving": int(worker.transfer_outgoing_count),
        "incoming_bytes": int(state.transfer_incoming_bytes),
        "outgoing_bytes": int(worker.transfer_outgoing_bytes),
        "incoming": _transfers(worker.transfer_incoming_log),
        "outgoing": _transfers(worker.transfer_outgoing_log),
    }


def _transfers(log):
    entries = list(log)[-MAX_TRANSFERS:]
    return [
        {
            "start": float(entry.get("start", 0.0)),
            "stop": float(entry.get("stop", 0.0)),
            "duration": float(entry.get("duration", 0.0)),
            "total": int(entry.get("total", 0)),
            "bandwidth": float(entry.get("bandwidth", 0.0) or 0.0),
            "who": str(entry.get("who", "")),
            "keys": len(entry.get("keys") or ()),
        }
        for entry in entries
    ]


def counters(dask_worker=None):
    """Return the worker's counters as ``{name: {value: count}}``."""
    result = {}
    for name, counter in dict(dask_worker.counters).items():
        components = getattr(counter, "components", None)
        counts = components[0] if components else counter
        result[str(name)] = {str(value): int(n) for value, n in dict(counts).items()}
    return result


def task_records(dask_worker=None):
    """
    Return records of the computed tasks that the worker still keeps.

    Each record has the key text, the prefix, the compute start and stop
    (Unix time) and the result size. Tasks the worker has forgotten are
    gone, so the caller keeps its own history.
    """
    from dask.utils import key_split

    records = []
    for key, ts in list(dask_worker.state.tasks.items()):
        for startstop in list(ts.startstops or ()):
            if startstop.get("action") != "compute":
                continue
            nbytes = ts.nbytes if ts.nbytes is not None and ts.nbytes >= 0 else 0
            records.append(
                {
                    "key": str(key),
                    "prefix": key_split(key),
                    "start": float(startstop["start"]),
                    "stop": float(startstop["stop"]),
                    "nbytes": int(nbytes),
                    "state": str(ts.state),
                }
            )
    records.sort(key=lambda record: record["start"], reverse=True)
    return records[:MAX_TASK_RECORDS]


def system_samples(start=0, dask_worker=None):
    """
    Return the worker's system monitor samples taken after the ``start``-th.

    The result contains the new ``count`` to pass next time. Fields missing
    on this platform (for example ``num_fds`` on Windows) are left out.
    """
    monitor = dask_worker.monitor
    count = monitor.count
    held = len(monitor.quantities["time"])
    new = min(max(count - start, 0), held, MAX_SYSTEM_SAMPLES)
    samples = {}
    for field in SYSTEM_FIELDS:
        values = monitor.quantities.get(field)
        if values is None:
            continue
        values = list(values)
        samples[field] = [float(v) for v in values[len(values) - new :]]
    return {"count": count, "samples": samples}


async def profile(key=None, server=False, dask_worker=None):
    """
    Return the worker's statistical profile as flame-graph rectangles.

    ``server`` selects the worker's event-loop profile; otherwise the task
    profile, limited to tasks of prefix ``key`` if given.
    """
    from distributed.profile import plot_data

    state = await dask_worker.get_profile(key=key or None, server=bool(server))
    data = plot_data(state)
    fields = ("left", "right", "bottom", "top", "name", "filename", "line_number")
    rectangles = {field: list(data[field]) for field in fields}
    rectangles["time"] = list(data["time"])
    rectangles["percentage"] = list(data["percentage"])
    return {"count": int(state.get("count", 0)), "rectangles": rectangles}


def prometheus_numbers(dask_worker=None):
    """
    Return the numbers behind Dask's ``dask_worker_*`` families.

    Unlike Dask's own collector this neither resets the maximum tick
    duration nor takes a monitor sample, so reading the metrics changes
    nothing on the worker.
    """
    from distributed.gc import gc_collect_duration

    worker = dask_worker
    state = worker.state
    data = worker.data
    tasks = {}
    for task_state, n in state.task_counter.current_count(by_prefix=False).items():
        if task_state == "memory" and hasattr(data, "slow"):
            on_disk = len(data.slow)
            if n - on_disk > 0:
                tasks["memory"] = n - on_disk
            if on_disk > 0:
                tasks["disk"] = on_disk
        elif n:
            tasks[str(task_state)] = int(n)
    try:
        spilled_memory, spilled_disk = data.spilled_total
    except AttributeError:
        spilled_memory, spilled_disk = 0, 0
    process_memory = int(worker.monitor.get_process_memory())
    managed = min(process_memory, int(state.nbytes) - int(spilled_memory))
    spill = None
    metrics = getattr(data, "cumulative_metrics", None)
    if metrics is not None:
        spill = [
            [str(label), str(unit), float(v)] for (label, unit), v in metrics.items()
        ]
    monitor = worker.monitor
    gil = None
    if getattr(monitor, "monitor_gil_contention", False):
        gil = float(monitor.cumulative_gil_contention)
    now = time.time()
    tick_maximum = max(
        float(worker.digests_max.get("tick_duration", 0)), now - worker._last_tick
    )
    return {
        "tasks": tasks,
        "gil_contention": gil,
        "gc_collection": float(gc_collect_duration()),
        "threads": int(state.nthreads),
        "latency": float(worker.latency),
        "memory": {
            "managed": managed,
            "unmanaged": process_memory - managed,
            "spilled": int(spilled_disk),
        },
        "transfer_incoming_bytes": int(state.transfer_incoming_bytes),
        "transfer_incoming_count": int(state.transfer_incoming_count),
        "transfer_incoming_count_total": int(state.transfer_incoming_count_total),
        "transfer_outgoing_bytes": int(worker.transfer_outgoing_bytes),
        "transfer_outgoing_count": int(worker.transfer_outgoing_count),
        "transfer_outgoing_bytes_total": int(worker.transfer_outgoing_bytes_total),
        "transfer_outgoing_count_total": int(worker.transfer_outgoing_count_total),
        "spill": spill,
        "tick_duration_maximum": tick_maximum,
        "tick_count": int(worker._tick_counter),
    }


def health(dask_worker=None):
    """Return the worker's status name, for example ``running``."""
    return str(dask_worker.status.name)
