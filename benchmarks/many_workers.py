"""
Measure the worker pages and the per-worker memory plot with many workers.

Starts a scheduler with Dask's dashboard on, ``--workers`` in-process
workers in pools of 50 (``worker_pool.py``) and clusterdash under daphne
with a logged-in session (``servers.py``), all on 127.0.0.1. It scatters
``--keys`` small values onto one worker and keeps their futures, then for
each of four pages, on clusterdash and on Dask's dashboard:

- fetches the page once and records its status, size in bytes, the data
  rows of its tables, its links to task pages (the keys it lists) and
  whether it links to a next page;
- times ``--requests`` sequential GETs (``measures.first_loads``), or for
  the plot page as many loads in Chromium, each until its Bokeh document
  has arrived (``measures.document_loads``).

It also times one update of the plot behind ``/individual-workers-memory``
(``plots.worker_plots.WorkersMemory``) in this process, fed with a snapshot
from the live cluster. For each update it measures the Bokeh ``PATCH-DOC``
messages that would go to a browser. The cases are no worker changed, one
worker's managed bytes changed, every tenth or every worker's changed, and
two real snapshots taken a second apart.

The results go to ``results/many-workers.json`` beside ``--output`` and to
the section of ``--output`` (``benchmarks/README.md`` by default) between
the ``many_workers.py results`` markers.

Usage::

    .venv/bin/python benchmarks/many_workers.py --workers 20 --keys 500
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import re
import statistics
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import measures
import psutil
import report
from compare import (
    describe_machine,
    describe_versions,
    finish_record,
    prepare_process,
)
from distributed import Client
from measures import Dashboard, percentile
from report import number
from servers import PROJECT, PeakRSS, Servers

logger = logging.getLogger("many_workers")

BEGIN = "<!-- many_workers.py results: begin -->"
END = "<!-- many_workers.py results: end -->"
WORKERS_PAGE = "/info/main/workers.html"
MEMORY_PLOT = "/individual-workers-memory"
COUNTS = "/json/counts.json"
#: Bytes added to a worker's managed memory to make it "changed".
CHANGE_BYTES = 2**20


class PageCounter(HTMLParser):
    """Count the data rows of each table and the key and next-page links."""

    def __init__(self) -> None:
        super().__init__()
        self.table_rows: list[int] = []
        self._open_tables: list[int] = []
        self._row_has_cell = False
        self.task_links = 0
        self.has_next = False
        self._link_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._open_tables.append(len(self.table_rows))
            self.table_rows.append(0)
        elif tag == "tr":
            self._row_has_cell = False
        elif tag == "td":
            self._row_has_cell = True
        elif tag == "a":
            attributes = dict(attrs)
            href = attributes.get("href") or ""
            if "task/" in href:
                self.task_links += 1
            if attributes.get("rel") == "next":
                self.has_next = True
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._open_tables:
            self._open_tables.pop()
        elif tag == "tr" and self._open_tables and self._row_has_cell:
            self.table_rows[self._open_tables[-1]] += 1
            self._row_has_cell = False
        elif tag == "a" and self._link_text is not None:
            if "".join(self._link_text).strip().lower() == "next":
                self.has_next = True
            self._link_text = None

    def handle_data(self, data: str) -> None:
        if self._link_text is not None:
            self._link_text.append(data)


def describe_page(dashboard: Dashboard, path: str) -> dict:
    """GET ``path`` once and return its status, size, table rows and links."""
    request = urllib.request.Request(dashboard.url + path, headers=dashboard.headers)
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    record: dict = {"status": status, "bytes": len(body)}
    if not path.endswith(".html"):
        return record
    counter = PageCounter()
    counter.feed(body.decode("utf-8", "replace"))
    record.update(
        table_rows=counter.table_rows,
        rows=max(counter.table_rows, default=0),
        task_links=counter.task_links,
        has_next=counter.has_next,
    )
    pages = re.search(r"page \d+ of (\d+)", body.decode("utf-8", "replace"), re.I)
    record["pages"] = int(pages[1]) if pages else 1
    return record


def measure_pages(
    servers: Servers, dashboards: list[Dashboard], paths: dict, args
) -> dict:
    """Describe and time every page on every dashboard."""
    idle = measures.cpu_rates({"scheduler": servers.scheduler.pid}, 3.0)
    results: dict[str, dict] = {}
    for label, path in paths.items():
        results[label] = {"path": path}
        for dashboard in dashboards:
            logger.info("%s %s", dashboard.name, path)
            record = describe_page(dashboard, path)
            if record["status"] == 200:
                # A plot page counts once its Bokeh document has arrived.
                timer = (
                    measures.document_loads
                    if path == MEMORY_PLOT
                    else measures.first_loads
                )
                try:
                    record.update(
                        timer(dashboard, path, args.requests, args.request_seconds)
                    )
                except (OSError, RuntimeError) as exc:
                    # A later error page (a 503 when a scheduler call timed
                    # out) ends this page's timing but not the run.
                    logger.warning("%s %s failed: %r", dashboard.name, path, exc)
                    record["error"] = repr(exc)
            results[label][dashboard.name] = record
            if path == MEMORY_PLOT and dashboard.name == "dask":
                # Every load left a Bokeh session with periodic callbacks in
                # Dask's scheduler, so they get time to expire before the next.
                measures.settle(servers.scheduler.pid, idle["scheduler"], 40)
    return results


def scatter_keys(client: Client, address: str, count: int) -> list:
    """Scatter ``count`` small values to the worker ``address``, keep futures."""
    futures = client.scatter(list(range(count)), workers=[address], hash=False)
    deadline = time.monotonic() + 600
    while (held := len(client.has_what([address]).get(address, ()))) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"timed out after 600 s: worker {address} has {held} of {count} keys"
            )
        time.sleep(0.5)
    return futures


def message_bytes(message) -> int:
    """Return the bytes a Bokeh protocol message takes on the websocket."""
    size = len(message.header_json) + len(message.metadata_json)
    size += len(message.content_json)
    return size + sum(len(buffer.to_bytes()) for buffer in message.buffers)


def raise_memory(worker, extra: int):
    return dataclasses.replace(
        worker,
        managed_bytes=worker.managed_bytes + extra,
        memory=worker.memory + extra,
    )


def time_update(panel, doc, base, target, repeats: int) -> dict:
    """Time ``panel.update(target)`` after ``update(base)``, ``repeats`` times.

    Returns the median and p99 milliseconds, the Bokeh document events of
    one update and the bytes of their ``PATCH-DOC`` messages, one message
    per event as the Bokeh server sends them.
    """
    from bokeh.protocol import Protocol

    protocol = Protocol()
    timings, sizes, event_counts, patched_rows = [], [], [], []
    for _ in range(repeats):
        panel.update(base)
        events: list = []
        listener = events.append
        doc.on_change(listener)
        started = time.perf_counter()
        panel.update(target)
        timings.append((time.perf_counter() - started) * 1000)
        doc.remove_on_change(listener)
        sizes.append(
            sum(
                message_bytes(protocol.create("PATCH-DOC", [event])) for event in events
            )
        )
        event_counts.append(len(events))
        patched_rows.append(sum(patch_rows(event) for event in events))
    return {
        "p50_ms": statistics.median(timings),
        "p99_ms": percentile(timings, 0.99),
        "patch_bytes": statistics.median(sizes),
        "events": statistics.median(event_counts),
        "patched_rows": statistics.median(patched_rows),
    }


def patch_rows(event) -> int:
    """Return the data-source rows one document event carries."""
    patches = getattr(event, "patches", None)
    if patches is not None:
        return len({index for values in patches.values() for index, _ in values})
    if hasattr(event, "cols"):
        # A replaced ``data`` travels whole: every row of every column.
        data = event.data if event.data is not None else event.model.data
        return max((len(column) for column in data.values()), default=0)
    return 0


def measure_plot_update(servers: Servers, repeats: int) -> dict:
    """Time the memory plot's update on snapshots of the live cluster."""
    # The panels read Django settings, so this process gets clusterdash's.
    os.environ.update(servers.clusterdash_environment())
    sys.path.insert(0, str(PROJECT))
    import django

    django.setup()
    from bokeh.document import Document

    from clusterdash.backends.dask.backend import DaskBackend
    from plots.worker_plots import WorkersMemory

    backend = DaskBackend({"address": servers.scheduler_address, "timeout": 60})
    try:
        first = backend.fetch_snapshot()
        time.sleep(1.0)
        second = backend.fetch_snapshot()
    finally:
        backend.close()
    workers = list(first.workers)
    middle = len(workers) // 2
    single = [
        raise_memory(w, CHANGE_BYTES) if i == middle else w
        for i, w in enumerate(workers)
    ]
    tenth = [
        raise_memory(w, CHANGE_BYTES) if i % 10 == 0 else w
        for i, w in enumerate(workers)
    ]
    every = [raise_memory(w, CHANGE_BYTES) for w in workers]
    targets = {
        "none": (first, first, 0),
        "one": (first, dataclasses.replace(first, workers=tuple(single)), 1),
        "tenth": (
            first,
            dataclasses.replace(first, workers=tuple(tenth)),
            len(workers[::10]),
        ),
        "all": (first, dataclasses.replace(first, workers=tuple(every)), len(every)),
        "real": (first, second, count_changed(first, second)),
    }
    panel = WorkersMemory()
    doc = Document()
    doc.add_root(panel.root)
    results = {"workers": len(workers)}
    for name, (base, target, changed_workers) in targets.items():
        logger.info("plot update, %s changed", name)
        results[name] = {
            "changed_workers": changed_workers,
            **time_update(panel, doc, base, target, repeats),
        }
    return results


def count_changed(first, second) -> int:
    """Return how many workers' memory numbers differ between two snapshots."""

    def memory(snapshot):
        return {
            w.address: (w.managed_bytes, w.memory, w.spilled_bytes, w.status)
            for w in snapshot.workers
        }

    before, after = memory(first), memory(second)
    return sum(1 for address in after if before.get(address) != after[address])


class PeakMemory:
    """Peak resident set sizes of the run's processes, sampled every 0.5 s."""

    def __init__(self, servers: Servers) -> None:
        self.scheduler = PeakRSS(servers.scheduler.pid)
        self.daphne = PeakRSS(servers.daphne.pid)
        self.pools = [PeakRSS(pool.pid) for pool in servers.pools]

    def close(self) -> dict:
        """Stop sampling and return the peaks in bytes."""
        pools = [sampler.close() for sampler in self.pools]
        return {
            "scheduler": self.scheduler.close(),
            "daphne": self.daphne.close(),
            "worker_pools": sum(pools),
            "largest_pool": max(pools, default=0),
            "this_process": psutil.Process().memory_info().rss,
        }


def run(args) -> dict:
    record: dict = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": describe_machine(),
        "versions": describe_versions(),
        "settings": {
            "workers": args.workers,
            "keys": args.keys,
            "requests": args.requests,
            "request_seconds": args.request_seconds,
            "update_repeats": args.update_repeats,
        },
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="clusterdash-many-") as work_dir:
        servers = Servers(Path(work_dir))
        client = None
        try:
            servers.start_scheduler()
            begun = time.monotonic()
            servers.start_workers(args.workers)
            client = Client(servers.scheduler_address, set_as_default=False)
            client.wait_for_workers(args.workers, timeout=args.startup_timeout)
            record["worker_startup_seconds"] = time.monotonic() - begun
            logger.info(
                "%d workers up in %.0f s",
                args.workers,
                record["worker_startup_seconds"],
            )
            servers.start_clusterdash()
            peaks = PeakMemory(servers)
            address = sorted(client.scheduler_info(n_workers=-1)["workers"])[0]
            begun = time.monotonic()
            futures = scatter_keys(client, address, args.keys)
            record["scatter_seconds"] = time.monotonic() - begun
            segment = urllib.parse.quote(address, safe="")
            paths = {
                "workers": WORKERS_PAGE,
                "worker": f"/info/worker/{segment}.html",
                "memory_plot": MEMORY_PLOT,
                "counts": COUNTS,
            }
            dashboards = [
                Dashboard(
                    "clusterdash", servers.clusterdash_url, servers.session_cookie
                ),
                Dashboard("dask", servers.dask_url),
            ]
            record["pages"] = measure_pages(servers, dashboards, paths, args)
            record["plot_update"] = measure_plot_update(servers, args.update_repeats)
            record["peak_rss"] = peaks.close()
            del futures
        finally:
            if client is not None:
                client.close()
            servers.close()
    finish_record(record, started)
    return record


PAGE_LABELS = {
    "workers": "`/info/main/workers.html`",
    "worker": "worker page `/info/worker/<address>.html`",
    "memory_plot": "`/individual-workers-memory`",
    "counts": "`/json/counts.json`",
}
UPDATE_LABELS = {
    "none": "no worker changed",
    "one": "one worker changed",
    "tenth": "every tenth worker changed",
    "all": "every worker changed",
    "real": "two real snapshots 1 s apart",
}


def page_cells(entry: dict) -> list[str]:
    if entry.get("status") != 200 or "error" in entry:
        failure = entry.get("error") or f"HTTP {entry.get('status')}"
        return [f"{entry['bytes']:,}", f"failed: {failure}", "–", "–", "–"]
    rows = entry.get("rows")
    links = entry.get("task_links")
    listing = "–" if rows is None else f"{rows:,} / {links:,}"
    if "has_next" in entry:
        listing += f" / {'yes' if entry['has_next'] else 'no'}"
        listing += f" ({entry['pages']} page{'s' if entry['pages'] > 1 else ''})"
    return [
        f"{entry['bytes']:,}",
        number(entry.get("p50_ms", float("nan"))),
        number(entry.get("p99_ms", float("nan"))),
        f"{int(entry.get('samples', 0))}",
        listing,
    ]


def render_section(record: dict) -> str:
    settings = record["settings"]
    machine = record["machine"]
    versions = ", ".join(
        f"{name} {value}" for name, value in record["versions"].items()
    )
    rss = record["peak_rss"]
    lines = [
        BEGIN,
        "## Many workers (`many_workers.py`)",
        "",
        "`many_workers.py` starts a scheduler with Dask's dashboard on, "
        "in-process workers in pools of 50 (`worker_pool.py`) and clusterdash "
        "under daphne with a logged-in session (`servers.py`). It scatters "
        "small values onto one worker and keeps their futures. Each page is "
        "fetched once for its size and rows, then timed over sequential GETs "
        "(`measures.first_loads`). The listing column gives the data rows of "
        "the largest table, the links to task pages (keys listed) and "
        "whether a next-page link exists. `/individual-workers-memory` is "
        "timed in Chromium instead, each load in a new tab until its Bokeh "
        "document has arrived (`measures.document_loads`).",
        "",
        f"Run {record['date']}, {record['total_seconds']:.0f} s in all, "
        f"{record['worker_startup_seconds']:.0f} s of it to start the workers:",
        "",
        "```sh",
        record["command"],
        "```",
        "",
        f"Machine: {machine['nproc']} CPU cores, {machine['cpu_model']}, "
        f"{machine['ram_gib']} GiB RAM, {machine['system']}; load average "
        f"{machine['load_average'][0]} before and "
        f"{machine['load_average_after'][0]} after the run.",
        "",
        f"Versions: {versions}.",
        "",
        f"### {settings['workers']} workers, {settings['keys']:,} keys on one",
        "",
        "| page | dashboard | bytes | p50 (ms) | p99 (ms) | requests "
        "| rows / keys / next |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for label, entries in record["pages"].items():
        for name in ("clusterdash", "dask"):
            cells = page_cells(entries[name])
            lines.append(
                f"| {PAGE_LABELS[label]} | {name} | " + " | ".join(cells) + " |"
            )
    update = record["plot_update"]
    lines += [
        "",
        f"One update of `WorkersMemory` (clusterdash's `/individual-workers-memory` "
        f"plot) with {update['workers']} workers, timed in this process. It starts "
        "from a snapshot of the live cluster and raises the managed bytes of no "
        "worker, one, every tenth or every worker by 1 MiB. The last case is two "
        "snapshots taken a second apart. The "
        "bytes are the `PATCH-DOC` messages the update would send, one per "
        "document event, as the Bokeh server sends them.",
        "",
        "| update | workers changed | p50 (ms) | p99 (ms) | events | rows sent "
        "| message bytes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in UPDATE_LABELS.items():
        entry = update[name]
        lines.append(
            f"| {label} | {entry['changed_workers']} | {number(entry['p50_ms'])} "
            f"| {number(entry['p99_ms'])} | {entry['events']:.0f} "
            f"| {entry['patched_rows']:,.0f} | {entry['patch_bytes']:,.0f} |"
        )
    lines += [
        "",
        f"Peak resident memory (psutil, sampled every 0.5 s from the start of "
        f"clusterdash): worker pools {rss['worker_pools'] / 2**30:.2f} GiB in "
        f"all (largest pool {rss['largest_pool'] / 2**20:.0f} MiB), scheduler "
        f"{rss['scheduler'] / 2**20:.0f} MiB, daphne "
        f"{rss['daphne'] / 2**20:.0f} MiB, and this script "
        f"{rss['this_process'] / 2**20:.0f} MiB at the end.",
        END,
        "",
    ]
    return "\n".join(wrap_prose(line) for line in lines)


def wrap_prose(line: str) -> str:
    """Wrap a paragraph at 75 columns, but not a table row, heading or marker."""
    if line.startswith(("|", "#", "<!--", "```", "python ")):
        return line
    return textwrap.fill(line, 75, break_long_words=False, break_on_hyphens=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=500, help="workers to start")
    parser.add_argument(
        "--keys", type=int, default=10_000, help="keys to put on one worker"
    )
    parser.add_argument(
        "--requests", type=int, default=50, help="sequential GETs per page"
    )
    parser.add_argument(
        "--request-seconds",
        type=float,
        default=60.0,
        help="maximum seconds of sequential GETs per page and dashboard",
    )
    parser.add_argument(
        "--update-repeats",
        type=int,
        default=20,
        help="timed plot updates per case",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=1800.0,
        help="maximum seconds to wait for the workers to connect",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).with_name("README.md"),
        help="Markdown page whose many-workers section is rewritten",
    )
    args = parser.parse_args()
    prepare_process()

    record = run(args)
    record["command"] = (
        f"python benchmarks/many_workers.py --workers {args.workers} "
        f"--keys {args.keys} --requests {args.requests}"
    )
    results_dir = args.output.parent / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    results_file = results_dir / "many-workers.json"
    results_file.write_text(json.dumps(record, indent=1) + "\n")
    report.replace_section(args.output, render_section(record), BEGIN, END)
    logger.info("wrote %s and %s", results_file, args.output)


if __name__ == "__main__":
    main()
