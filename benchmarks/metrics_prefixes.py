"""
Measure /metrics with many distinct task prefixes, beside Dask's own.

Starts a scheduler and two workers as ``dask`` processes and runs one task
for each of N distinct prefixes (``p{i}x-{i}``), a thousand at a time. It
then scrapes clusterdash's ``/metrics`` (through Django's test client, with
the default prefix cap) and Dask's scheduler ``/metrics`` several times
each, first while the results are held and again after they are released.

    CLUSTERDASH_VAR_DIR=var/bench DJANGO_SETTINGS_MODULE=tests.settings \\
        .venv/bin/python benchmarks/metrics_prefixes.py --prefixes 50000
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from distributed import Client  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.test import override_settings  # noqa: E402

from clusterdash.backends import reset_backend  # noqa: E402
from tests.workers.cluster import worker_cluster  # noqa: E402

#: Tasks submitted at once.
CHUNK = 1000

SERIES = re.compile(r"^dask_scheduler_tasks_output_bytes\{", re.MULTILINE)


def scrape_clusterdash(client: DjangoClient) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = client.get("/metrics")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    return (
        elapsed,
        len(response.content),
        len(SERIES.findall(response.content.decode())),
    )


def scrape_dask(url: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as response:
        body = response.read()
    elapsed = time.perf_counter() - started
    return elapsed, len(body), len(SERIES.findall(body.decode()))


def report(label: str, samples: list[tuple[float, int, int]]) -> None:
    times = [s[0] * 1000 for s in samples]
    print(
        f"| {label} | {statistics.median(times):.0f} | {max(times):.0f} "
        f"| {samples[-1][1] / 1e6:.2f} | {samples[-1][2]} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--prefixes", type=int, default=50_000)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument(
        "--base-port",
        type=int,
        default=8600,
        help="first of the six ports the cluster listens on",
    )
    arguments = parser.parse_args()

    # The scheduler runs in its own process: an in-process scheduler's
    # /metrics handler would share prometheus_client's default registry
    # with clusterdash's collectors.
    with (
        worker_cluster(arguments.base_port) as cluster,
        Client(cluster.scheduler_address) as client,
    ):
        dask_url = f"http://127.0.0.1:{cluster.scheduler_dashboard_port}/metrics"
        setting = {
            "BACKEND": "clusterdash.backends.dask.DaskBackend",
            "OPTIONS": {"address": cluster.scheduler_address, "timeout": 120.0},
        }
        with override_settings(
            CLUSTERDASH_BACKEND=setting, ALLOWED_HOSTS=["testserver"]
        ):
            reset_backend()
            site = DjangoClient()
            keys = [f"p{i}x-{i}" for i in range(arguments.prefixes)]
            futures = []
            # A group of one task is never queued, so one map of all the
            # keys would put every task in processing at once, and Dask's
            # scheduler sums occupancy over each worker's processing
            # prefixes at every transition: quadratic in the prefixes.
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                futures += client.map(len, ["ab"] * len(chunk), key=chunk)
                client.gather(futures[start:])
            print(f"{len(keys):,} tasks done; scraping", file=sys.stderr, flush=True)
            print(
                "| scrape | median (ms) | max (ms) | size (MB) | per-prefix series |",
                flush=True,
            )
            print("|---|---|---|---|---|", flush=True)
            for label, scrape in (
                ("clusterdash, held", lambda: scrape_clusterdash(site)),
                ("Dask, held", lambda: scrape_dask(dask_url)),
            ):
                report(label, [scrape() for _ in range(arguments.scrapes)])
            del futures
            time.sleep(5)
            for label, scrape in (
                ("clusterdash, released", lambda: scrape_clusterdash(site)),
                ("Dask, released", lambda: scrape_dask(dask_url)),
            ):
                report(label, [scrape() for _ in range(arguments.scrapes)])
            reset_backend()


if __name__ == "__main__":
    main()
