"""
Time a map on fresh clusters, with no tab open and with each dashboard's.

On one scheduler, maps ran slower as the run went on: at 200 workers, the
same map took 625 s first and 912 s three maps later. So every timed map
here gets its own scheduler, worker pools and clusterdash, and nothing else
of the run is alive while it runs. The conditions are timed in rounds, and
each round starts with a different one, so drift over the run falls on
every condition alike. Each round's slowdowns are taken against that
round's map with no tab.
"""

from __future__ import annotations

import logging
import os
import statistics
from pathlib import Path

import measures
import psutil
from distributed import Client
from measures import Dashboard
from servers import Servers

logger = logging.getLogger("compare")

CONDITIONS = ("none", "clusterdash", "dask")
MAP_TABS = ["/status", "/tasks", "/graph"]

#: The control condition: no tab, but a busy loop on the viewers' CPUs.
BUSY = "busy"

#: Share of one CPU the busy loop keeps busy until half the map is done:
#: about what Chromium and daphne used on the viewers' CPU with
#: clusterdash's tabs open, 4 workers.
BUSY_SHARE = 0.4

LABELS = {"none": "no tab", BUSY: "a busy loop instead of tabs"}

#: The scheduler's CPU use (percent) before a map, read for this long, is
#: what ``settle`` waits to come back to after it.
IDLE_WINDOW = 3.0


def round_order(index: int, conditions: tuple[str, ...] = CONDITIONS) -> list[str]:
    """Return the conditions of round ``index``, rotated by one per round."""
    shift = index % len(conditions)
    return list(conditions[shift:] + conditions[:shift])


def timed_map(
    work_dir: Path,
    workers: int,
    tasks: int,
    condition: str,
    placement: measures.Placement | None,
    longest_settle: float,
) -> dict:
    """Start a fresh cluster and clusterdash, time one map, stop them all."""
    work_dir.mkdir()
    servers = Servers(work_dir)
    client = None
    this_process = os.getpid()
    every_cpu = sorted(psutil.Process().cpu_affinity())
    try:
        servers.start_scheduler()
        servers.start_workers(workers)
        client = Client(servers.scheduler_address, set_as_default=False)
        client.wait_for_workers(workers, timeout=600)
        servers.start_clusterdash()
        dashboards = {
            "clusterdash": Dashboard(
                "clusterdash", servers.clusterdash_url, servers.session_cookie
            ),
            "dask": Dashboard("dask", servers.dask_url),
        }
        dashboard = dashboards.get(condition)
        viewer_cpus: tuple[int, ...] = ()
        if placement is not None:
            cluster = [servers.scheduler.pid, this_process] + [
                p.pid for p in servers.pools
            ]
            measures.pin(cluster, placement.cluster)
            measures.pin([servers.daphne.pid], placement.viewers)
            viewer_cpus = placement.viewers
        scheduler = servers.scheduler.pid
        idle = measures.cpu_rates({"scheduler": scheduler}, IDLE_WINDOW)["scheduler"]
        result = measures.map_wall_time(
            client,
            tasks,
            dashboard,
            MAP_TABS if dashboard else [],
            {"scheduler": scheduler, "daphne": servers.daphne.pid},
            viewer_cpus,
            BUSY_SHARE if condition == BUSY else 0.0,
        )
        result["idle_after"] = measures.settle(scheduler, idle, longest_settle)
        return result
    finally:
        if client is not None:
            client.close()
        servers.close()
        measures.pin([this_process], every_cpu)


def measure_rounds(
    work_dir: Path,
    workers: int,
    tasks: int,
    rounds: int,
    placement: measures.Placement | None,
    longest_settle: float,
    busy_control: bool = False,
) -> dict:
    """Time ``rounds`` maps per condition; return them with a summary.

    With ``busy_control``, each round also times a map with a busy loop on
    the viewers' CPUs and no tab. If that map slows as much as the one
    with tabs, the slowdown comes from load on those CPUs, not from what
    the tabs ask of the scheduler.
    """
    if placement is not None:
        logger.info("map placement: %s", placement.describe())
    conditions = CONDITIONS + ((BUSY,) if busy_control else ())
    timed: list[dict] = []
    for index in range(rounds):
        order = round_order(index, conditions)
        entry: dict = {"order": order}
        for condition in order:
            logger.info(
                "map of %d tasks, round %d of %d, %s",
                tasks,
                index + 1,
                rounds,
                LABELS.get(condition, f"{condition} tabs"),
            )
            entry[condition] = timed_map(
                work_dir / f"map-{index}-{condition}",
                workers,
                tasks,
                condition,
                placement,
                longest_settle,
            )
        timed.append(entry)
    return {
        "rounds": timed,
        "tasks": tasks,
        "busy_share": BUSY_SHARE if busy_control else None,
        "placement": placement.describe() if placement else None,
        "summary": summarize(timed),
    }


def summarize(timed: list[dict]) -> dict:
    """Return medians per condition and per-round slowdowns against no tab."""
    summary: dict = {}
    present = [c for c in (*CONDITIONS, BUSY) if all(c in entry for entry in timed)]
    for condition in present:
        runs = [entry[condition] for entry in timed]
        seconds = [run["seconds"] for run in runs]
        summary[condition] = {
            "seconds": statistics.median(seconds),
            "seconds_min": min(seconds),
            "seconds_max": max(seconds),
            "scheduler_cpu_seconds": statistics.median(
                run["scheduler_cpu_seconds"] for run in runs
            ),
            "daphne_cpu_seconds": statistics.median(
                run["daphne_cpu_seconds"] for run in runs
            ),
            "browser_cpu_seconds": statistics.median(
                run["browser_cpu_seconds"] for run in runs
            ),
            "idle_after": statistics.median(run["idle_after"] for run in runs),
        }
        if condition == "none":
            continue
        slowdowns = [
            100 * (entry[condition]["seconds"] / entry["none"]["seconds"] - 1)
            for entry in timed
        ]
        summary[condition]["slowdown_pct"] = statistics.median(slowdowns)
        summary[condition]["slowdown_min_pct"] = min(slowdowns)
        summary[condition]["slowdown_max_pct"] = max(slowdowns)
    return summary
