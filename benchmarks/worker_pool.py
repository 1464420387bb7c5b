"""
Run many single-threaded Dask workers in one process, on one event loop.

A process per worker would not fit 200 workers on a small machine, so the
benchmark starts a few of these pools. The memory monitor is off
(``memory_limit=0``), because 200 monitors polling RSS every 100 ms would
load the machine more than the dashboards being measured.

Usage::

    python benchmarks/worker_pool.py tcp://127.0.0.1:8786 --workers 50
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from distributed import Worker


async def run_pool(address: str, count: int) -> None:
    workers = [
        Worker(
            address,
            nthreads=1,
            host="127.0.0.1",
            memory_limit=0,
            dashboard=False,
            name=None,
        )
        for _ in range(count)
    ]
    await asyncio.gather(*workers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await stop.wait()
    await asyncio.gather(
        *(worker.close(timeout=5) for worker in workers), return_exceptions=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address", help="scheduler address, tcp://host:port")
    parser.add_argument("--workers", type=int, default=1, help="workers to start")
    args = parser.parse_args()
    asyncio.run(run_pool(args.address, args.workers))


if __name__ == "__main__":
    main()
