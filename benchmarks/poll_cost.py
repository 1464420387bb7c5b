"""
Measure what one snapshot poll costs the scheduler, at 0 to 100,000 tasks.

Starts a two-worker LocalCluster on 127.0.0.1, then for each task count
holds that many tasks on the scheduler: one root task blocked on a
``distributed.Event`` and N-1 dependents of it, all waiting. For each count
it times:

- ``scheduler_side.summary`` inside the scheduler process (``perf_counter``
  around the call, in a wrapper run with ``run_on_scheduler``), which is the
  time the scheduler's event loop is blocked by one poll;
- ``DaskBackend.fetch_snapshot()`` in this process, the client-side round
  trip of the snapshot, conversion to plain records included;
- one whole poller cycle as the site runs it: the snapshot plus the
  task-stream fetch.

Prints the environment and a Markdown table for benchmarks/README.md.

Usage: .venv/bin/python benchmarks/poll_cost.py [--polls 50] [--counts 0,10000,100000]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distributed import Client, Event, LocalCluster  # noqa: E402

from clusterdash.backends.dask import scheduler_side  # noqa: E402
from clusterdash.backends.dask.backend import DaskBackend  # noqa: E402


def timed_summary(dask_scheduler=None):
    """Run one snapshot summary on the scheduler; return its seconds."""
    started = time.perf_counter()
    scheduler_side.summary(dask_scheduler)
    return time.perf_counter() - started


def wait_for_root(event_name):
    from distributed import Event

    Event(event_name).wait()
    return 0


def dependent(index, root):
    return index + root


def percentile(values, fraction):
    ordered = sorted(values)
    position = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[position]


def milliseconds(values):
    return (
        statistics.median(values) * 1000,
        percentile(values, 0.95) * 1000,
    )


def hold_tasks(client, count, event_name):
    """Submit ``count`` held tasks; return the futures that keep them."""
    if count == 0:
        return []
    root = client.submit(wait_for_root, event_name, key=f"root-{count}")
    dependents = client.map(
        dependent,
        range(count - 1),
        root=root,
        key=[f"dependent-{count}-{i}" for i in range(count - 1)],
    )
    futures = [root, *dependents]
    deadline = time.monotonic() + 300
    while (
        client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        < count
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the scheduler did not receive {count} tasks in 300 s")
        time.sleep(0.5)
    return futures


def measure(client, backend, polls):
    scheduler_seconds = []
    snapshot_seconds = []
    poll_seconds = []
    for _ in range(polls):
        scheduler_seconds.append(client.run_on_scheduler(timed_summary))

        started = time.perf_counter()
        backend.fetch_snapshot()
        snapshot_seconds.append(time.perf_counter() - started)

        started = time.perf_counter()
        backend.fetch_snapshot()
        backend.fetch_task_stream(0)
        poll_seconds.append(time.perf_counter() - started)

        # The site polls every 0.5 s; a short gap keeps the loop from
        # measuring back-to-back calls only.
        time.sleep(0.02)
    return scheduler_seconds, snapshot_seconds, poll_seconds


def environment():
    lines = [
        f"- CPU cores (`nproc`): {os.cpu_count()}",
        f"- Python: {platform.python_version()} ({platform.machine()}, "
        f"{platform.system()} {platform.release()})",
    ]
    for package in ("distributed", "dask", "tornado", "msgpack", "cloudpickle"):
        lines.append(f"- {package} {version(package)}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=50, help="polls per count")
    parser.add_argument(
        "--counts",
        default="0,10000,100000",
        help="comma-separated task counts to hold (default: 0,10000,100000)",
    )
    args = parser.parse_args()
    counts = [int(item) for item in args.counts.split(",")]

    rows = []
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address="127.0.0.1:8499",
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        backend = DaskBackend({"address": cluster.scheduler_address, "timeout": 30})
        try:
            for count in counts:
                event_name = f"release-{count}"
                event = Event(event_name, client=client)
                started = time.perf_counter()
                futures = hold_tasks(client, count, event_name)
                submit_seconds = time.perf_counter() - started
                held = client.run_on_scheduler(
                    lambda dask_scheduler: len(dask_scheduler.tasks)
                )
                scheduler, snapshot, poll = measure(client, backend, args.polls)
                rows.append((count, held, scheduler, snapshot, poll))
                print(
                    f"{count} tasks ({held} held, submitted in {submit_seconds:.1f} s)"
                    f": scheduler median {milliseconds(scheduler)[0]:.3f} ms",
                    file=sys.stderr,
                )
                # Cancel before releasing the root, so the dependents never run.
                client.cancel(futures)
                event.set()
                del futures
                # The next count starts from an empty scheduler; give up
                # waiting after a minute so a stuck release cannot hang the run.
                deadline = time.monotonic() + 60
                while client.run_on_scheduler(
                    lambda dask_scheduler: len(dask_scheduler.tasks)
                ):
                    if time.monotonic() > deadline:
                        print("tasks were still held after 60 s", file=sys.stderr)
                        break
                    time.sleep(0.2)
        finally:
            backend.close()

    print(environment())
    print()
    print(
        "| tasks held | scheduler: `summary` median / p95 (ms) "
        "| client: `fetch_snapshot` median / p95 (ms) "
        "| client: snapshot + task stream median / p95 (ms) |"
    )
    print("|---:|---:|---:|---:|")
    for _count, held, scheduler, snapshot, poll in rows:
        cells = [
            "{:.3f} / {:.3f}".format(*milliseconds(values))
            for values in (scheduler, snapshot, poll)
        ]
        print(f"| {held:,} | {' | '.join(cells)} |")
    print(f"\n{args.polls} polls per row.")


if __name__ == "__main__":
    main()
