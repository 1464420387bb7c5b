"""
Functions that run inside the scheduler process.

The Dask backend ships these with ``Client.run_on_scheduler``, pickled by
value, so nothing needs installing on the scheduler host. Each one returns
plain builtins and costs O(workers + task groups), except the detail
functions, which cost O(size of what they return). None of them scans every
task. They must import nothing from the ``clusterdash`` package, because the
scheduler host does not have it.
"""

import asyncio

#: Longest log line returned whole; longer lines are cut to this many
#: characters and flagged.
MAX_LINE_CHARS = 65_536

#: Cap on the dependencies or dependents listed for one task.
MAX_RELATIVES = 500


def summary(dask_scheduler=None):
    """Return the shared snapshot's raw material as plain builtins."""
    scheduler = dask_scheduler
    workers = []
    idle = scheduler.idle
    saturated = scheduler.saturated
    for ws in scheduler.workers.values():
        metrics = ws.metrics
        net = metrics.get("host_net_io") or {}
        spilled = metrics.get("spilled_bytes") or {}
        workers.append(
            {
                "address": ws.address,
                "name": str(ws.name),
                "host": ws.host,
                "nthreads": ws.nthreads,
                "memory_limit": ws.memory_limit or 0,
                "memory": int(metrics.get("memory") or 0),
                "managed_bytes": ws.nbytes,
                "spilled_bytes": int(spilled.get("disk") or 0),
                "cpu": float(metrics.get("cpu") or 0.0),
                "occupancy": float(ws.occupancy),
                "processing": len(ws.processing),
                "executing": len(ws.executing),
                "in_memory": len(ws.has_what),
                "last_seen": ws.last_seen,
                "status": ws.status.name,
                "idle": ws.address in idle,
                "saturated": ws in saturated,
                "num_fds": int(metrics.get("num_fds") or 0),
                "read_bps": float(net.get("read_bps") or 0.0),
                "write_bps": float(net.get("write_bps") or 0.0),
                "services": dict(ws.services),
                "resources": dict(ws.resources),
                "used_resources": dict(ws.used_resources),
                "nanny": ws.nanny,
                "pid": ws.pid,
                "local_directory": ws.local_directory,
                "metrics": metrics,
                # For the identity document, which shows the name unconverted.
                "raw_name": ws.name,
                "extra": dict(ws.extra),
            }
        )

    totals = {}
    prefixes = []
    for tp in scheduler.task_prefixes.values():
        states = dict(tp.states)
        for state, count in states.items():
            totals[state] = totals.get(state, 0) + count
        prefixes.append(
            {
                "name": tp.name,
                "states": states,
                "nbytes": tp.nbytes_total,
                "compute_seconds": tp._all_durations_us.get("compute", 0) / 1e6,
                "groups": len(tp._groups),
            }
        )

    # The workers' part of the identity document repeats their metrics, so
    # the dashboard builds it from the worker records instead of receiving
    # every worker's metrics twice.
    identity = scheduler.identity(n_workers=0)
    return {
        "scheduler": {
            "address": scheduler.address,
            "id": str(scheduler.id),
            "started": scheduler.time_started,
            "services": identity["services"],
            "type": identity["type"],
        },
        "workers": workers,
        "task_states": totals,
        "prefixes": prefixes,
        "task_groups": len(scheduler.task_groups),
        "counts": _counts(scheduler, totals),
        "clients": sum(1 for name in scheduler.clients if name != "fire-and-forget"),
        "total_threads": scheduler.total_nthreads,
        "total_memory": scheduler.total_memory,
        "identity": identity,
        "client_list": _client_list(scheduler),
        "all_topic": _all_topic(scheduler),
    }


#: Newest events of a topic that ``summary`` reports, so a poll can count
#: the graphs submitted and restarts made since the previous poll.
RECENT_TOPIC_EVENTS = 50


def _client_list(scheduler):
    topics = scheduler._broker._topics
    clients = []
    for client_id, cs in scheduler.clients.items():
        if client_id == "fire-and-forget":
            continue
        total, recent, _ = _topic_tail(topics.get(client_id))
        clients.append(
            {
                "id": str(client_id),
                "wants": len(cs.wants_what),
                "events_total": total,
                "recent_actions": recent,
            }
        )
    return clients


def _all_topic(scheduler):
    # The "all" topic records workers and clients coming and going, with
    # their ids, and Scheduler.restart ends in restart_workers, which logs
    # "restart-workers" there.
    total, recent, subjects = _topic_tail(scheduler._broker._topics.get("all"))
    return {"events_total": total, "recent_actions": recent, "subjects": subjects}


def _topic_tail(topic):
    """Return a topic's event count, newest actions and their subjects."""
    if topic is None:
        return 0, [], []
    events = topic.events
    recent = []
    subjects = []
    for index in range(max(len(events) - RECENT_TOPIC_EVENTS, 0), len(events)):
        message = events[index][1]
        if not isinstance(message, dict):
            message = {}
        recent.append(str(message.get("action", "")))
        subject = message.get("worker") or message.get("client") or ""
        subjects.append(subject if isinstance(subject, str) else "")
    return topic.count, recent, subjects


def _counts(scheduler, totals):
    workers = scheduler.workers.values()
    return {
        "bytes": sum(ws.nbytes for ws in workers),
        "clients": len(scheduler.clients),
        "cores": sum(ws.nthreads for ws in workers),
        "erred": totals.get("erred", 0),
        "hosts": len(scheduler.host_info),
        "idle": len(scheduler.idle),
        "memory": sum(len(ws.has_what) for ws in workers),
        "processing": sum(len(ws.processing) for ws in workers),
        "released": totals.get("released", 0),
        "saturated": len(scheduler.saturated),
        "tasks": len(scheduler.tasks),
        "unrunnable": len(scheduler.unrunnable),
        "waiting": totals.get("waiting", 0),
        "waiting_data": _waiting_data(scheduler),
        "workers": len(scheduler.workers),
        "desired_workers": scheduler.adaptive_target(),
    }


def _waiting_data(scheduler):
    # Dask counts tasks whose result some task still waits for by scanning
    # every task. This estimate stays O(task groups): results in memory of
    # every group that an unfinished group depends on.
    # NOTE: it over-counts when only part of a dependent group is unfinished.
    needed = set()
    for tg in scheduler.task_groups.values():
        states = tg.states
        if states.get("waiting") or states.get("processing") or states.get("queued"):
            needed.update(tg.dependencies)
        elif states.get("no-worker"):
            needed.update(tg.dependencies)
    return sum(tg.states.get("memory", 0) for tg in needed)


def task_stream(cursor, limit, dask_scheduler=None):
    """
    Return task-stream records after ``cursor`` and the next cursor.

    A negative cursor asks only for the current position. At most ``limit``
    of the newest records are returned; older ones are skipped.
    """
    plugin = dask_scheduler._task_stream_plugin()
    if cursor < 0 or cursor > plugin.index:
        return [], plugin.index
    start = max(cursor, plugin.index - limit)
    records = []
    for message in plugin.collect(start_index=start):
        records.append(
            {
                "key": message.get("key"),
                "worker": message.get("worker", ""),
                "status": message.get("status", "OK"),
                "nbytes": message.get("nbytes") or 0,
                "typename": message.get("typename") or "",
                "thread": message.get("thread") or 0,
                "startstops": [dict(item) for item in message.get("startstops", ())],
                "stimulus_id": str(message.get("stimulus_id") or ""),
                "exception_text": str(message.get("exception_text") or ""),
            }
        )
    return records, plugin.index


def worker_detail(address, offset, limit, dask_scheduler=None):
    """Return one worker with a page of its held keys, or None if unknown."""
    ws = dask_scheduler.workers.get(address)
    if ws is None:
        return None
    held = sorted(ws.has_what, key=lambda ts: str(ts.key))
    page = [(ts.key, ts.nbytes) for ts in held[offset : offset + limit]]
    processing = sorted(ws.processing, key=lambda ts: ts.priority or ())
    return {
        "held": page,
        "held_total": len(held),
        "processing": [(ts.key, ts.priority) for ts in processing[:limit]],
        "processing_total": len(processing),
    }


def resolve_key(candidates, dask_scheduler=None):
    """Return the index of the first candidate the scheduler holds, or -1."""
    tasks = dask_scheduler.tasks
    for index, key in enumerate(candidates):
        try:
            if key in tasks:
                return index
        except TypeError:
            continue
    return -1


def task_detail(key, dask_scheduler=None):
    """Return the task page's fields for ``key``, or None if unknown."""
    scheduler = dask_scheduler
    ts = scheduler.tasks.get(key)
    if ts is None:
        return None
    dependencies = list(ts.dependencies)
    dependents = list(ts.dependents)
    story = []
    for record in scheduler.story(key):
        subject, start, finish, recommendations, stimulus_id, timestamp = record[:6]
        story.append(
            {
                "key": subject,
                "start": start,
                "finish": finish,
                "recommendations": [
                    (rkey, str(rstate)) for rkey, rstate in recommendations.items()
                ],
                "stimulus_id": str(stimulus_id),
                "timestamp": timestamp,
            }
        )
    return {
        "key": ts.key,
        "state": ts.state,
        "processing_on": ts.processing_on.address if ts.processing_on else None,
        "type": ts.type,
        "nbytes": ts.nbytes,
        "priority": ts.priority,
        "waiting_on": [(d.key, d.state) for d in list(ts.waiting_on or ())],
        "dependencies": [(d.key, d.state) for d in dependencies[:MAX_RELATIVES]],
        "dependencies_total": len(dependencies),
        "dependents": [(d.key, d.state) for d in dependents[:MAX_RELATIVES]],
        "dependents_total": len(dependents),
        "who_has": sorted(ws.address for ws in (ts.who_has or ())),
        "clients": sorted(str(cs.client_key) for cs in ts.who_wants or ()),
        "retries": ts.retries,
        "suspicious": ts.suspicious,
        "has_lost_dependencies": bool(ts.has_lost_dependencies),
        "host_restrictions": sorted(ts.host_restrictions or ()),
        "worker_restrictions": sorted(ts.worker_restrictions or ()),
        "resource_restrictions": dict(ts.resource_restrictions or {}),
        "loose_restrictions": bool(ts.loose_restrictions),
        "metadata": dict(ts.metadata or {}),
        "exception_text": ts.exception_text or "",
        "traceback_text": ts.traceback_text or "",
        "story": story,
    }


def erred_tasks(dask_scheduler=None):
    """Return the scheduler's retained failures, newest first."""
    return [
        {
            "key": record.key,
            "timestamp": record.timestamp,
            "workers": sorted(record.erred_on),
            "exception_text": record.exception_text,
            "traceback_text": record.traceback_text,
        }
        for record in dask_scheduler.erred_tasks
    ]


def scheduler_logs(offset, max_bytes, dask_scheduler=None):
    """Return a bounded, newest-first slice of the scheduler's log."""
    return _slice_log(dask_scheduler.get_logs(), offset, max_bytes)


async def worker_logs(address, offset, max_bytes, timeout, dask_scheduler=None):
    """
    Return a slice of one worker's log, ``"unknown"`` or ``"timeout"``.

    The scheduler forwards the request; ``timeout`` bounds the wait for the
    worker, so a frozen worker cannot hold the request open.
    """
    if address not in dask_scheduler.workers:
        return "unknown"
    try:
        answers = await asyncio.wait_for(
            dask_scheduler.get_worker_logs(workers=[address]), timeout
        )
    except (TimeoutError, OSError):
        return "timeout"
    return _slice_log(answers.get(address) or [], offset, max_bytes)


def _slice_log(records, offset, max_bytes):
    # ``records`` come newest first, as (level, message) pairs.
    total = len(records)
    chosen = []
    size = 0
    cut = 0
    for level, message in records[offset:]:
        message = str(message)
        if len(message) > MAX_LINE_CHARS:
            message = message[:MAX_LINE_CHARS]
            cut += 1
        if chosen and size + len(message) > max_bytes:
            break
        chosen.append((str(level), message))
        size += len(message)
    return {"records": chosen, "total": total, "offset": offset, "cut_lines": cut}


async def call_stacks(address, keys, timeout, dask_scheduler=None):
    """
    Return call stacks as ``{worker: {key: frames}}``, or a status string.

    With ``address`` set, asks that worker for the tasks it is processing
    (``"unknown"`` if it is not a worker). With ``keys`` set, walks from the
    keys to the running tasks they wait on, as Dask's call-stack page does
    (``"unknown"`` if the first key is not held).
    """
    scheduler = dask_scheduler
    if address is not None:
        ws = scheduler.workers.get(address)
        if ws is None:
            return "unknown"
        keys = [ts.key for ts in ws.processing]
        if not keys:
            return {}
    elif keys[0] not in scheduler.tasks:
        return "unknown"
    try:
        return await asyncio.wait_for(scheduler.get_call_stack(keys=keys), timeout)
    except (TimeoutError, OSError):
        return "timeout"


def prometheus_numbers(max_prefixes, dask_scheduler=None):
    """
    Return the numbers behind Dask's scheduler metric families.

    Reads the same scheduler attributes as Dask's own collector but changes
    nothing: no system-monitor sample is taken and the tick-duration maximum
    is not reset. Per-prefix series are capped at ``max_prefixes`` (0 for no
    cap): prefixes with tasks still held come first, then by cumulative
    transitions, and the rest are summed into one ``other`` entry.
    """
    from distributed.core import Status
    from distributed.gc import gc_collect_duration
    from distributed.metrics import time
    from distributed.scheduler import ALL_TASK_STATES

    scheduler = dask_scheduler
    monitor = scheduler.monitor
    task_counts = {}
    for tp in scheduler.task_prefixes.values():
        for state, count in tp.states.items():
            task_counts[state] = task_counts.get(state, 0) + count
    paused = sum(1 for ws in scheduler.workers.values() if ws.status == Status.paused)
    running = len(scheduler.running)
    idle = len(scheduler.idle)
    saturated = len(scheduler.saturated)
    tick_maximum = max(
        scheduler.digests_max.get("tick_duration", 0.0),
        time() - scheduler._last_tick,
    )
    gil = None
    if monitor.monitor_gil_contention:
        gil = monitor.cumulative_gil_contention
    return {
        "clients": sum(1 for name in scheduler.clients if name != "fire-and-forget"),
        "client_connections_added": scheduler._client_connections_added_total,
        "client_connections_removed": scheduler._client_connections_removed_total,
        "desired_workers": scheduler.adaptive_target(),
        "workers": [
            ("idle", idle),
            ("partially_saturated", running - idle - saturated),
            ("saturated", saturated),
            ("paused", paused),
            ("retiring", len(scheduler.workers) - paused - running),
        ],
        "workers_added": scheduler._workers_added_total,
        "workers_removed": scheduler._workers_removed_total,
        "gil_contention": gil,
        "gc_collection": gc_collect_duration(),
        "last_time": monitor.last_time,
        "tasks": [
            (state, task_counts.get(state, 0))
            for state in ALL_TASK_STATES
            if state != "forgotten"
        ],
        "tasks_forgotten": task_counts.get("forgotten", 0),
        "task_groups": len(scheduler.task_groups),
        "prefixes": _prefix_numbers(scheduler, max_prefixes),
        "tick_duration_maximum": tick_maximum,
        "tick_count": scheduler._tick_counter,
        "semaphores": _semaphore_numbers(scheduler),
        "stealing": _stealing_numbers(scheduler),
    }


def _prefix_numbers(scheduler, max_prefixes):
    prefixes = []
    for tp in scheduler.task_prefixes.values():
        durations = tp.all_durations
        held = sum(n for state, n in tp.states.items() if state != "forgotten")
        prefixes.append(
            {
                "name": str(tp.name),
                "suspicious": tp.suspicious,
                "compute": durations.get("compute", 0.0),
                "transfer": durations.get("transfer", 0.0),
                "nbytes": tp.nbytes_total,
                "state_totals": dict(tp.state_counts),
                "_rank": (held > 0, sum(tp.state_counts.values())),
            }
        )
    if max_prefixes and len(prefixes) > max_prefixes:
        prefixes.sort(key=lambda p: p["_rank"], reverse=True)
        kept, rest = prefixes[: max_prefixes - 1], prefixes[max_prefixes - 1 :]
        other = {
            "name": "other",
            "suspicious": 0,
            "compute": 0.0,
            "transfer": 0.0,
            "nbytes": 0,
            "state_totals": {},
        }
        for prefix in rest:
            for field in ("suspicious", "compute", "transfer", "nbytes"):
                other[field] += prefix[field]
            for state, count in prefix["state_totals"].items():
                totals = other["state_totals"]
                totals[state] = totals.get(state, 0) + count
        prefixes = kept + [other]
    for prefix in prefixes:
        prefix.pop("_rank", None)
    return prefixes


def _semaphore_numbers(scheduler):
    extension = scheduler.extensions.get("semaphores")
    if extension is None:
        return None
    metrics = extension.metrics
    return [
        {
            "name": str(name),
            "max_leases": max_leases,
            "active_leases": len(extension.leases[name]),
            "pending_leases": metrics["pending"][name],
            "acquire_total": metrics["acquire_total"][name],
            "release_total": metrics["release_total"][name],
            "average_pending_lease_time": metrics["average_pending_lease_time"][name],
        }
        for name, max_leases in extension.max_leases.items()
    ]


def _stealing_numbers(scheduler):
    extension = scheduler.extensions.get("stealing")
    if extension is None:
        return None
    metrics = extension.metrics
    return [
        (
            str(multiplier),
            metrics["request_count_total"][level],
            metrics["request_cost_total"][level],
        )
        for level, multiplier in enumerate(extension.cost_multipliers)
    ]


def worker_prometheus_numbers(dask_scheduler=None):
    """
    Return per-worker numbers for Dask's worker families from heartbeats.

    Costs O(workers): every value comes from the metrics each worker sent
    with its last heartbeat, so no worker is contacted.
    """
    workers = []
    for ws in dask_scheduler.workers.values():
        metrics = ws.metrics
        spilled = metrics.get("spilled_bytes") or {}
        process_memory = int(metrics.get("memory") or 0)
        managed = min(process_memory, int(ws.nbytes) - int(spilled.get("memory") or 0))
        managed = max(managed, 0)
        task_counts = metrics.get("task_counts") or {}
        workers.append(
            {
                "address": ws.address,
                "tasks": {str(state): n for state, n in task_counts.items() if n},
                "threads": ws.nthreads,
                "memory": {
                    "managed": managed,
                    "unmanaged": max(process_memory - managed, 0),
                    "spilled": int(spilled.get("disk") or 0),
                },
                "transfer": dict(metrics.get("transfer") or {}),
            }
        )
    return workers
