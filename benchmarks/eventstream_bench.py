"""
Measure /eventstream delivery: events per second to 50 clients, and losses.

Starts a two-worker LocalCluster and daphne on 127.0.0.1 (port 8300-8399),
opens ``--clients`` websocket readers, runs ``--tasks`` small tasks and
counts the ``transition`` messages each reader gets for them. Every task
yields exactly one ``compute`` message, so ``tasks x clients`` messages are
expected. The run stops by itself after ``--timeout`` seconds.

Usage::

    .venv/bin/python benchmarks/eventstream_bench.py --clients 50 --tasks 4000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websockets
from distributed import Client, LocalCluster

PROJECT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    for port in range(8300, 8400):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8300-8399")


def start_daphne(scheduler: str, port: int, var_dir: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clusterdash.settings",
        "CLUSTERDASH_SCHEDULER": scheduler,
        "CLUSTERDASH_VAR_DIR": var_dir,
        "CLUSTERDASH_POLL_INTERVAL": "0.2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
        + ["clusterdash.asgi:application"],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.terminate()
                raise
            time.sleep(0.2)


async def reader(
    url: str, prefix: str, expected: int, stats: dict, ready, headers=None
) -> None:
    count = 0
    first = last = None
    async with websockets.connect(
        url, max_queue=None, additional_headers=headers
    ) as socket_:
        ready.release()
        try:
            while count < expected:
                message = json.loads(await asyncio.wait_for(socket_.recv(), 10))
                if message.get("name") != "transition":
                    continue
                key = message.get("key")
                if isinstance(key, str) and key.startswith(prefix):
                    count += 1
                    now = time.perf_counter()
                    first = first or now
                    last = now
        except (TimeoutError, websockets.ConnectionClosed):
            pass
    stats["received"] += count
    if first is not None:
        stats["first"] = min(stats["first"], first)
        stats["last"] = max(stats["last"], last)


async def run(args: argparse.Namespace, url: str, client: Client, headers=None) -> dict:
    """Count the messages that ``args.clients`` readers get for new tasks.

    ``headers`` go with every websocket handshake, for example a session
    cookie.
    """
    prefix = f"bench-{int(time.time())}"
    stats = {"received": 0, "first": float("inf"), "last": 0.0}
    ready = asyncio.Semaphore(0)
    readers = [
        asyncio.create_task(reader(url, prefix, args.tasks, stats, ready, headers))
        for _ in range(args.clients)
    ]
    for _ in readers:
        await ready.acquire()
    await asyncio.sleep(1.0)

    def submit() -> float:
        started = time.perf_counter()
        keys = [f"{prefix}-{i}" for i in range(args.tasks)]
        client.gather(client.map(len, ["x"] * args.tasks, key=keys))
        return time.perf_counter() - started

    compute_seconds = await asyncio.to_thread(submit)
    await asyncio.wait_for(asyncio.gather(*readers), args.timeout)
    stats["compute_seconds"] = compute_seconds
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as var_dir,
        LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.WARNING,
        ) as cluster,
        Client(cluster) as client,
    ):
        port = free_port()
        daphne = start_daphne(cluster.scheduler_address, port, var_dir)
        try:
            url = f"ws://127.0.0.1:{port}/eventstream"
            stats = asyncio.run(run(args, url, client))
        finally:
            daphne.terminate()
            daphne.wait(10)

    expected = args.tasks * args.clients
    span = max(stats["last"] - stats["first"], 1e-9)
    print(f"clients:            {args.clients}")
    compute = stats["compute_seconds"]
    print(f"tasks:              {args.tasks} (computed in {compute:.2f} s)")
    print(f"messages expected:  {expected}")
    print(f"messages received:  {stats['received']}")
    print(f"messages lost:      {expected - stats['received']}")
    print(f"delivery span:      {span:.2f} s (first to last message)")
    print(f"delivered per sec:  {stats['received'] / span:.0f}")


if __name__ == "__main__":
    main()
