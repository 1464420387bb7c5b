"""
Functions that run inside the scheduler process for the live plots.

Shipped with ``Client.run_on_scheduler`` and pickled by value, like
``scheduler_side``, so they import nothing from the ``clusterdash`` package.
Each returns plain builtins. Only ``task_graph`` touches single tasks, and
only while the scheduler contains at most ``max_items`` of them.
"""

import collections

#: Samples of the scheduler's system monitor returned at most per call.
MAX_SYSTEM_SAMPLES = 1000

#: Events of one topic returned at most per call.
MAX_EVENTS = 1000

SYSTEM_FIELDS = (
    "time",
    "cpu",
    "memory",
    "host_net_io.read_bps",
    "host_net_io.write_bps",
    "num_fds",
)


def system_samples(start=0, dask_scheduler=None):
    """
    Return the scheduler's system monitor samples taken after ``start``.

    ``start`` is the sample count of the previous call (0 at first); the
    answer carries the new ``count``. Fields missing on this platform (for
    example ``num_fds`` on Windows) are left out.
    """
    monitor = dask_scheduler.monitor
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


def bandwidth(dask_scheduler=None):
    """Return the scheduler's measured transfer bandwidths, in bytes/s."""
    scheduler = dask_scheduler
    return {
        "total": float(scheduler.bandwidth),
        "types": {str(k): float(v) for k, v in scheduler.bandwidth_types.items()},
        "workers": [
            [str(src), str(dst), float(v)]
            for (src, dst), v in scheduler.bandwidth_workers.items()
        ],
        "names": {addr: str(ws.name) for addr, ws in scheduler.workers.items()},
    }


def task_graph(max_items, last_counter=-1, dask_scheduler=None):
    """
    Return the task graph, or only its size when it is too large or unchanged.

    Tasks are ``[key, state]`` pairs and edges ``[dependency, dependent]``
    index pairs. The graph is left out when the transition counter still
    equals ``last_counter`` or when the scheduler contains more than
    ``max_items`` tasks, so the scan stays bounded.
    """
    scheduler = dask_scheduler
    counter = scheduler.transition_counter
    size = len(scheduler.tasks)
    answer = {"counter": counter, "size": size, "tasks": None, "edges": None}
    if counter == last_counter or size > max_items:
        return answer
    index = {}
    tasks = []
    for key, ts in scheduler.tasks.items():
        index[key] = len(tasks)
        tasks.append([key, ts.state])
    edges = []
    for key, ts in scheduler.tasks.items():
        target = index[key]
        for dep in ts.dependencies:
            source = index.get(dep.key)
            if source is not None:
                edges.append([source, target])
    answer["tasks"] = tasks
    answer["edges"] = edges
    return answer


def task_groups(dask_scheduler=None):
    """Return every task group with its state counts and dependencies."""
    groups = []
    for name, tg in dask_scheduler.task_groups.items():
        groups.append(
            {
                "name": str(name),
                "prefix": str(tg.prefix.name),
                "states": {k: int(v) for k, v in tg.states.items() if v},
                "nbytes": int(tg.nbytes_total),
                "duration": float(tg.duration),
                "dependencies": sorted(str(dep.name) for dep in tg.dependencies),
            }
        )
    return groups


async def profile(key=None, server=False, dask_scheduler=None):
    """
    Return the merged statistical profile as flame-graph rectangles.

    With ``server`` the profile is of the scheduler's own event loop, else
    of the tasks on every worker (only tasks with prefix ``key`` if given).
    """
    from distributed.profile import plot_data

    if server:
        state = await dask_scheduler.get_profile(scheduler=True)
    else:
        state = await dask_scheduler.get_profile(key=key)
    data = plot_data(state)
    fields = ("left", "right", "bottom", "top", "name", "filename", "line_number")
    rectangles = {field: list(data[field]) for field in fields}
    rectangles["time"] = list(data["time"])
    rectangles["percentage"] = list(data["percentage"])
    # Dask leaves an empty deque in place of the event-loop profiler where
    # profiling is off (always on CPython 3.11).
    loop_profile = getattr(dask_scheduler.io_loop, "profile", None)
    profiled = loop_profile is not None and not isinstance(
        loop_profile, collections.deque
    )
    return {
        "count": int(state.get("count", 0)),
        "rectangles": rectangles,
        "server_profiling": profiled,
    }


def events(topic, start=0, dask_scheduler=None):
    """
    Return the events of ``topic`` published after the ``start``-th one.

    Each event is ``[time, action, text]``: ``action`` is the message's
    ``action`` field when it has one, ``text`` its ``repr`` cut to 300
    characters, with ``bytes`` values replaced by their length.
    """
    topics = dask_scheduler._broker._topics
    if topic not in topics:
        return {"count": 0, "events": []}
    record = topics[topic]
    new = min(max(record.count - start, 0), len(record.events), MAX_EVENTS)
    answer = []
    for timestamp, msg in list(record.events)[len(record.events) - new :]:
        action = msg.get("action", "") if isinstance(msg, dict) else ""
        if isinstance(msg, dict):
            # Pickled payloads (``run-function`` events) are noise in a tooltip.
            msg = {
                k: f"<{len(v)} bytes>" if isinstance(v, bytes) else v
                for k, v in msg.items()
            }
        answer.append([float(timestamp), str(action), repr(msg)[:300]])
    return {"count": record.count, "events": answer}


def counters(dask_scheduler=None):
    """Return the scheduler's counters as name -> {value: count}."""
    answer = {}
    for name, counter in getattr(dask_scheduler, "counters", {}).items():
        components = getattr(counter, "components", None)
        if not components:
            continue
        merged = {}
        for component in components:
            for value, count in component.items():
                merged[str(value)] = merged.get(str(value), 0) + int(count)
        answer[str(name)] = merged
    return answer


async def benchmark_hardware(dask_scheduler=None):
    """Run Dask's hardware benchmark on the workers; return bytes/s by size."""
    result = await dask_scheduler.benchmark_hardware()
    return {
        kind: {str(size): float(value) for size, value in sizes.items()}
        for kind, sizes in result.items()
    }


#: Rows of ``cumulative_worker_metrics`` returned at most per call, the
#: largest values first.
MAX_FINE_METRICS = 2000


def action_durations(dask_scheduler=None):
    """Return seconds spent on each action (compute, transfer, ...) so far."""
    totals = {}
    for prefix in dask_scheduler.task_prefixes.values():
        for action, seconds in prefix.all_durations.items():
            totals[str(action)] = totals.get(str(action), 0.0) + float(seconds)
    return totals


def contention(dask_scheduler=None):
    """
    Return the scheduler's observed event-loop tick interval in seconds.

    ``gil`` is the scheduler's recent GIL contention as a fraction, or None
    where Dask's GIL monitor is off.
    """
    monitor = dask_scheduler.monitor
    gil = None
    if getattr(monitor, "monitor_gil_contention", False):
        gil = float(monitor.recent().get("gil_contention", 0.0))
    return {
        "event_loop_interval": float(dask_scheduler._tick_interval_observed),
        "gil": gil,
    }


def fine_metrics(dask_scheduler=None):
    """
    Return the workers' cumulative fine performance metrics.

    Each row is ``[context, function, activity, unit, value]``: ``context``
    is ``execute`` for task execution (``function`` is the task prefix) and
    the worker operation otherwise (``gather-dep``, ``get-data``, ...).
    """
    rows = []
    for key, value in dask_scheduler.cumulative_worker_metrics.items():
        if not isinstance(key, tuple) or len(key) < 3:
            continue
        if key[0] == "execute" and len(key) == 4:
            context, function, activity, unit = key
        elif len(key) == 3:
            context, activity, unit = key
            function = ""
        else:
            continue
        rows.append(
            [str(context), str(function), str(activity), str(unit), float(value)]
        )
    rows.sort(key=lambda row: -abs(row[4]))
    return rows[:MAX_FINE_METRICS]


def shuffle_state(dask_scheduler=None):
    """
    Return the newest P2P shuffle's per-worker buffers, or None.

    Each worker maps to ``{"comm": {...}, "disk": {...}, "age": seconds}``
    with ``memory``, ``memory_limit``, ``total``, ``read`` and ``written``
    bytes per buffer; ``age`` is the seconds since the worker's last heartbeat.
    """
    from distributed.metrics import time

    extension = dask_scheduler.extensions.get("shuffle")
    heartbeats = getattr(extension, "heartbeats", None)
    if not heartbeats:
        return None
    shuffle_id, workers = list(heartbeats.items())[-1]
    now = time()
    answer = {}
    for worker, beat in workers.items():
        state = dask_scheduler.workers.get(worker)
        last_seen = state.last_seen if state is not None else now
        entry = {"age": float(now - last_seen)}
        for kind in ("comm", "disk"):
            part = beat.get(kind) or {}
            entry[kind] = {
                field: float(part.get(field) or 0)
                for field in ("memory", "memory_limit", "total", "read", "written")
            }
        answer[str(worker)] = entry
    return {"id": str(shuffle_id), "workers": answer}
