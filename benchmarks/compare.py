"""
Measure clusterdash beside Dask's own dashboard, on one cluster in one run.

Starts a scheduler with Dask's dashboard on (its own process), worker pools,
and clusterdash under daphne pointed at the same scheduler, all on
127.0.0.1. It keeps a number of waiting tasks on the scheduler, then measures
both dashboards one after the other in the same run, so that their ratios
stay meaningful on a noisy machine. It measures wrk latency per endpoint,
scheduler CPU with 0, 1 and 10 Chromium tabs on ``/status``,
``/eventstream`` delivery to 50 clients, a client's submit round trip while
wrk loads ``/status``, and the peak RSS of daphne. Before that cluster
starts, ``map_rounds`` times a map with and without tabs open, each on a
fresh cluster of the same size.

The results go to ``results/compare-<scale>.json`` beside ``--output``, and
the comparison section of ``--output`` (``benchmarks/README.md`` by default)
is rewritten from every results file there.

Usage::

    .venv/bin/python benchmarks/compare.py --scale small

A long run can be split in two. ``--map-only`` times the maps again and
keeps the other measurements of the scale's results file. ``--keep-maps``
measures the rest and keeps the file's maps.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

import map_rounds
import measures
import psutil
import report
from distributed import Client, Event
from measures import Dashboard
from servers import PeakRSS, Servers
from tasks import dependent, wait_for_event

logger = logging.getLogger("compare")

HELD_ROOT = "held-root"
TASK_PAGE = f"/info/task/{urllib.parse.quote('held-0', safe='')}.html"
ENDPOINTS = [
    "/health",
    "/metrics",
    "/json/counts.json",
    "/info/main/workers.html",
    TASK_PAGE,
    "/individual-plots.json",
]
STATUS = "/status"


@dataclass(frozen=True)
class Scale:
    """Sizes and measurement windows of one scale, all durations in seconds."""

    workers: int
    held_tasks: int
    wrk_seconds: float
    status_loads: int
    status_seconds: float
    cpu_window: float
    map_tasks: int
    map_rounds: int
    event_clients: int
    event_tasks: int
    round_trips: int
    round_trip_budget: float
    many_tabs: int
    longest_settle: float
    #: Whether to also time maps with a busy loop in place of the tabs.
    busy_control: bool = False


SCALES = {
    "tiny": Scale(
        workers=2,
        held_tasks=500,
        wrk_seconds=1,
        status_loads=3,
        status_seconds=10,
        cpu_window=2,
        map_tasks=500,
        map_rounds=1,
        event_clients=50,
        event_tasks=100,
        round_trips=10,
        round_trip_budget=5,
        many_tabs=2,
        longest_settle=10,
    ),
    "small": Scale(
        workers=4,
        held_tasks=10_000,
        wrk_seconds=5,
        status_loads=10,
        status_seconds=30,
        cpu_window=60,
        map_tasks=150_000,
        map_rounds=3,
        event_clients=50,
        event_tasks=4000,
        round_trips=100,
        round_trip_budget=20,
        many_tabs=10,
        longest_settle=40,
    ),
    "large": Scale(
        workers=200,
        held_tasks=200_000,
        wrk_seconds=5,
        status_loads=10,
        status_seconds=30,
        cpu_window=60,
        map_tasks=150_000,
        map_rounds=2,
        event_clients=50,
        event_tasks=4000,
        round_trips=100,
        round_trip_budget=20,
        many_tabs=10,
        longest_settle=40,
    ),
}


def hold_tasks(client: Client, count: int) -> tuple[Event, list]:
    """Submit ``count`` tasks that wait on one blocked root task."""
    event = Event(f"{HELD_ROOT}-event", client=client)
    root = client.submit(wait_for_event, event.name, key=HELD_ROOT)
    dependents = client.map(
        dependent,
        range(count - 1),
        root=root,
        key=[f"held-{index}" for index in range(count - 1)],
    )
    deadline = time.monotonic() + 600
    while client.run_on_scheduler(task_count) < count:
        if root.status == "error":
            raise RuntimeError(f"the held root task failed: {root.exception()!r}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the scheduler did not receive {count} tasks in 600 s")
        time.sleep(0.5)
    return event, [root, *dependents]


def task_count(dask_scheduler=None) -> int:
    return len(dask_scheduler.tasks)


@dataclass
class Run:
    """The servers, client and sizes that every measurement of a run shares."""

    servers: Servers
    client: Client
    scale: Scale
    dashboards: list[Dashboard]
    idle_rate: float = 0.0

    def settle(self) -> float:
        """Wait for the scheduler's CPU use to fall back; return the seconds."""
        waited = measures.settle(
            self.servers.scheduler.pid, self.idle_rate, self.scale.longest_settle
        )
        logger.info("scheduler settled after %.0f s", waited)
        return waited


def measure_latency(run: Run) -> dict:
    results: dict[str, dict] = {}
    for path in ENDPOINTS:
        results[path] = {}
        for dashboard in run.dashboards:
            logger.info("wrk %s %s", dashboard.name, path)
            try:
                results[path][dashboard.name] = measures.run_wrk(
                    dashboard, path, 4, run.scale.wrk_seconds
                )
            except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
                # An error page (a 503 when a scheduler call timed out) is a
                # result too, but wrk must not time it as a success.
                logger.warning("%s %s failed: %r", dashboard.name, path, exc)
                results[path][dashboard.name] = {"error": repr(exc)}
    return results


def measure_first_loads(run: Run) -> dict:
    # Each load leaves a Bokeh session with periodic callbacks behind, so the
    # pages load one at a time, and the sessions get time to expire after.
    results = {}
    for dashboard in run.dashboards:
        logger.info("first loads of %s %s", dashboard.name, STATUS)
        results[dashboard.name] = measures.document_loads(
            dashboard, STATUS, run.scale.status_loads, run.scale.status_seconds
        )
        run.settle()
    return results


def measure_tabs(run: Run) -> dict:
    pids = {"scheduler": run.servers.scheduler.pid, "daphne": run.servers.daphne.pid}
    window = run.scale.cpu_window
    # The loads before this leave the scheduler busy for a while, which would
    # raise the no-tab reading that every overhead is measured against.
    run.settle()
    logger.info("CPU with no tab")
    results: dict[str, dict] = {"0": measures.cpu_rates(pids, window)}
    for dashboard in run.dashboards:
        for tabs in (1, run.scale.many_tabs):
            logger.info("CPU with %d %s tabs", tabs, dashboard.name)
            rates = measures.tab_cpu(dashboard, tabs, pids, window)
            results[f"{dashboard.name}-{tabs}"] = rates
            run.settle()
    return results


def measure_responsiveness(run: Run) -> dict:
    count, budget = run.scale.round_trips, run.scale.round_trip_budget
    results = {}
    for dashboard in run.dashboards:
        logger.info("round trips, idle, %s /health", dashboard.name)
        results[f"idle-{dashboard.name}"] = measures.responsiveness(
            run.client, dashboard, count, budget
        )
    for dashboard in run.dashboards:
        logger.info("round trips under a %s /status burst", dashboard.name)
        with measures.wrk_burst(dashboard, STATUS, 4):
            results[f"burst-{dashboard.name}"] = measures.responsiveness(
                run.client, dashboard, count, budget
            )
        run.settle()
    return results


def measure_eventstream(run: Run) -> dict:
    clients = run.scale.event_clients
    results = {}
    for dashboard in run.dashboards:
        logger.info("eventstream, %d %s clients", clients, dashboard.name)
        results[dashboard.name] = measures.eventstream_rate(
            run.client, dashboard, clients, run.scale.event_tasks
        )
        run.settle()
    return results


def run_all(servers: Servers, client: Client, scale: Scale, save) -> dict:
    """Run every measurement on one cluster, calling ``save(results)`` after each."""
    dashboards = [
        Dashboard("clusterdash", servers.clusterdash_url, servers.session_cookie),
        Dashboard("dask", servers.dask_url),
    ]
    run = Run(servers, client, scale, dashboards)
    started = time.monotonic()
    run.idle_rate = measures.cpu_rates({"scheduler": servers.scheduler.pid}, 3.0)[
        "scheduler"
    ]
    # The measurements that leave Dask's Bokeh sessions behind come last.
    sections = [
        ("latency", measure_latency),
        ("cpu", measure_tabs),
        ("eventstream", measure_eventstream),
        ("first_loads", measure_first_loads),
        ("responsiveness", measure_responsiveness),
    ]
    results: dict = {}
    for name, measure in sections:
        try:
            results[name] = measure(run)
        except Exception as exc:  # noqa: BLE001 (the other sections still run)
            logger.exception("measurement %s failed", name)
            results[name] = {"error": repr(exc)}
        save(results)
    if "error" not in results["first_loads"] and "error" not in results["latency"]:
        results["latency"][STATUS] = results["first_loads"]
    results["measure_seconds"] = time.monotonic() - started
    return results


def command_version(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except OSError as exc:
        return f"unavailable ({exc})"
    return (completed.stdout or completed.stderr).strip().splitlines()[0]


def describe_machine() -> dict:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": psutil.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "system": f"{platform.system()} {platform.machine()}",
        "load_average": [round(load, 2) for load in psutil.getloadavg()],
    }


def describe_versions() -> dict:
    from importlib.metadata import version

    packages = ["distributed", "dask", "bokeh", "django", "channels", "daphne"]
    versions = {name: version(name) for name in packages + ["tornado", "playwright"]}
    versions["python"] = platform.python_version()
    versions["chromium"] = command_version(["/usr/bin/chromium", "--version"])
    versions["wrk"] = command_version(["wrk", "--version"])
    return versions


def time_maps(
    work_dir: Path, scale: Scale, placement: measures.Placement | None
) -> dict:
    """Time the scale's maps in rounds, each on a fresh cluster in ``work_dir``."""
    return map_rounds.measure_rounds(
        work_dir,
        scale.workers,
        scale.map_tasks,
        scale.map_rounds,
        placement,
        scale.longest_settle,
        scale.busy_control,
    )


def kept_maps(results_file: Path) -> dict:
    """Return the maps of an earlier run, labelled with when and how they ran."""
    earlier = json.loads(results_file.read_text())
    mapped = earlier["map"]
    mapped.setdefault("date", earlier["date"])
    mapped.setdefault("command", earlier.get("command", "an earlier run"))
    return mapped


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_scale(
    name: str,
    scale: Scale,
    partial_file: Path,
    placement: measures.Placement | None,
    kept_map: dict | None = None,
) -> dict:
    """Measure ``scale``; with ``kept_map``, reuse it instead of timing maps."""
    record = {
        "scale": name,
        "settings": asdict(scale),
        "date": now_utc(),
        "machine": describe_machine(),
        "versions": describe_versions(),
    }
    started = time.monotonic()

    def save_partial(results: dict) -> None:
        partial_file.write_text(json.dumps({**record, **results}, indent=1) + "\n")

    with tempfile.TemporaryDirectory(prefix="clusterdash-compare-") as work_dir:
        if kept_map is not None:
            record["map"] = kept_map
        else:
            try:
                record["map"] = time_maps(Path(work_dir), scale, placement)
            except Exception as exc:  # noqa: BLE001 (the other sections still run)
                logger.exception("measurement map failed")
                record["map"] = {"error": repr(exc)}
        save_partial({})
        servers = Servers(Path(work_dir))
        client = None
        try:
            servers.start_scheduler()
            servers.start_workers(scale.workers)
            client = Client(servers.scheduler_address, set_as_default=False)
            client.wait_for_workers(scale.workers, timeout=600)
            servers.start_clusterdash()
            daphne_rss = PeakRSS(servers.daphne.pid)
            scheduler_rss = PeakRSS(servers.scheduler.pid)
            logger.info("holding %d tasks", scale.held_tasks)
            held = hold_tasks(client, scale.held_tasks)
            record.update(run_all(servers, client, scale, save_partial))
            record["rss"] = {
                "clusterdash": daphne_rss.close(),
                "dask": scheduler_rss.close(),
            }
            held[0].set()
        finally:
            if client is not None:
                client.close()
            servers.close()
    finish_record(record, started)
    return record


def finish_record(record: dict, started: float) -> None:
    """Add the run's wall time and the load average after it to ``record``."""
    record["total_seconds"] = time.monotonic() - started
    record["machine"]["load_average_after"] = [
        round(load, 2) for load in psutil.getloadavg()
    ]


def prepare_process() -> None:
    """Make SIGTERM stop the run's servers and log progress to stderr."""
    # SIGTERM unwinds like Ctrl-C, so the servers this run started are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr
    )
    logging.getLogger("distributed").setLevel(logging.ERROR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).with_name("README.md"),
        help="Markdown page whose comparison section is rewritten",
    )
    parser.add_argument(
        "--map-tasks",
        type=int,
        help="tasks in the timed map, instead of the scale's default",
    )
    parser.add_argument(
        "--map-rounds",
        type=int,
        help="rounds of timed maps, each on fresh clusters, instead of the "
        "scale's default",
    )
    parser.add_argument(
        "--shared-cpus",
        action="store_true",
        help="run the timed maps with the cluster and the viewers on the same "
        "CPUs, instead of on separate halves of them",
    )
    parser.add_argument(
        "--map-only",
        action="store_true",
        help="time only the maps and replace them in the scale's results file, "
        "keeping its other measurements",
    )
    parser.add_argument(
        "--busy-control",
        action="store_true",
        help="also time each round's map with a busy loop on the viewers' CPUs "
        "and no tab, to tell the tabs' cost from any load on those CPUs",
    )
    parser.add_argument(
        "--keep-maps",
        action="store_true",
        help="measure everything but the maps and keep the maps of the scale's "
        "results file, so a long run can be split in two",
    )
    args = parser.parse_args()
    if args.map_only and args.keep_maps:
        parser.error("--map-only and --keep-maps exclude each other")
    prepare_process()

    scale = SCALES[args.scale]
    command = f"python benchmarks/compare.py --scale {args.scale}"
    if args.map_tasks:
        scale = dataclasses.replace(scale, map_tasks=args.map_tasks)
        command += f" --map-tasks {args.map_tasks}"
    if args.map_rounds:
        scale = dataclasses.replace(scale, map_rounds=args.map_rounds)
        command += f" --map-rounds {args.map_rounds}"
    results_dir = args.output.parent / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    results_file = results_dir / f"compare-{args.scale}.json"
    partial_file = results_dir / f"partial-{args.scale}.json"
    placement = None if args.shared_cpus else measures.Placement.split()
    if args.shared_cpus:
        command += " --shared-cpus"
    if args.busy_control:
        scale = dataclasses.replace(scale, busy_control=True)
        command += " --busy-control"
    if args.map_only:
        command += " --map-only"
        record = json.loads(results_file.read_text())
        with tempfile.TemporaryDirectory(prefix="clusterdash-compare-") as work_dir:
            record["map"] = time_maps(Path(work_dir), scale, placement)
        record["map"]["date"] = now_utc()
        record["map"]["command"] = command
    else:
        kept_map = None
        if args.keep_maps:
            command += " --keep-maps"
            kept_map = kept_maps(results_file)
        record = run_scale(args.scale, scale, partial_file, placement, kept_map)
        record["command"] = command
    partial_file.unlink(missing_ok=True)
    results_file.write_text(json.dumps(record, indent=1) + "\n")
    report.update_page(args.output, results_dir)
    logger.info("wrote %s and %s", results_file, args.output)


if __name__ == "__main__":
    main()
