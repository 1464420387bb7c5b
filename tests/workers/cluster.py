"""
A small real cluster whose workers run their own dashboards, for the
worker-page and proxy tests.

The scheduler and two workers run as separate ``dask`` processes, so a
test can freeze one worker with SIGSTOP. The workers listen on 127.0.0.2
and 127.0.0.3 (Linux routes all of 127.0.0.0/8 to the loopback device).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from distributed import Client

DASK = str(Path(sys.executable).with_name("dask"))


@dataclass
class WorkerProcess:
    """One worker process and where it listens."""

    host: str
    port: int
    dashboard_port: int
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


@dataclass
class WorkerCluster:
    """A scheduler address and its worker processes."""

    scheduler_address: str
    scheduler_dashboard_port: int
    workers: list[WorkerProcess]


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    """Wait until something accepts connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _worker_process(
    scheduler: str, host: str, port: int, dashboard_port: int, name: str
) -> subprocess.Popen:
    """Start one worker process without a nanny, with its dashboard on."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            scheduler,
            "--host",
            host,
            "--worker-port",
            str(port),
            "--dashboard-address",
            f"{host}:{dashboard_port}",
            "--dashboard",
            "--no-nanny",
            "--nthreads",
            "2",
            "--name",
            name,
        ],
        # With "-m", the working directory is on the worker's sys.path, so
        # the workers can import functions that tests submit by reference.
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_worker(scheduler: str, host: str, port: int, dashboard_port: int):
    """Start one worker process on fixed ports and wait for its dashboard."""
    process = _worker_process(scheduler, host, port, dashboard_port, f"worker-{host}")
    wait_for_port(host, dashboard_port)
    return WorkerProcess(host, port, dashboard_port, process)


def start_worker_on_free_ports(
    scheduler: str, host: str, name: str, timeout: float = 30.0
) -> WorkerProcess:
    """
    Start one worker process whose server and dashboard bind port 0.

    The ports come from the scheduler, which learns them when the worker
    registers under ``name``.
    """
    process = _worker_process(scheduler, host, 0, 0, name)
    try:
        with Client(scheduler, set_as_default=False) as client:
            deadline = time.monotonic() + timeout
            while True:
                for address, info in client.scheduler_info()["workers"].items():
                    if info["name"] == name and "dashboard" in info["services"]:
                        port = int(address.rsplit(":", 1)[1])
                        dashboard_port = int(info["services"]["dashboard"])
                        wait_for_port(host, dashboard_port)
                        return WorkerProcess(host, port, dashboard_port, process)
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"worker {name!r} on {host} did not register with "
                        f"{scheduler} in {timeout} s (exit code {process.poll()})"
                    )
                time.sleep(0.2)
    except BaseException:
        stop_process(process)
        raise


def stop_process(process: subprocess.Popen) -> None:
    """Stop a process this module started, waking it first if frozen."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGCONT)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@contextmanager
def worker_cluster(base_port: int):
    """
    Run a scheduler on ``base_port`` and two workers on the next ports.

    Uses ports ``base_port`` to ``base_port + 5``.
    """
    scheduler_address = f"tcp://127.0.0.1:{base_port}"
    scheduler = subprocess.Popen(
        [
            DASK,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(base_port),
            "--dashboard-address",
            f"127.0.0.1:{base_port + 1}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers = []
    try:
        wait_for_port("127.0.0.1", base_port)
        workers.append(
            start_worker(scheduler_address, "127.0.0.2", base_port + 2, base_port + 3)
        )
        workers.append(
            start_worker(scheduler_address, "127.0.0.3", base_port + 4, base_port + 5)
        )
        with Client(scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=30)
        yield WorkerCluster(scheduler_address, base_port + 1, workers)
    finally:
        for worker in workers:
            stop_process(worker.process)
        stop_process(scheduler)


def backend_settings(address: str) -> dict:
    """Return a ``CLUSTERDASH_BACKEND`` setting for the cluster at ``address``."""
    return {
        "BACKEND": "clusterdash.backends.dask.DaskBackend",
        "OPTIONS": {
            "address": address,
            "poll_interval": 0.2,
            "timeout": 5.0,
            "worker_timeout": 5.0,
        },
    }


@contextmanager
def steady_sleeps(scheduler_address: str, workers: list[str] | None = None):
    """
    Keep 50 ms sleep tasks running for the ``with`` block.

    ``workers`` restricts them to those worker addresses; None allows all.
    """
    stop = threading.Event()

    def submit():
        with Client(scheduler_address, set_as_default=False) as client:
            while not stop.is_set():
                futures = client.map(
                    time.sleep, [0.05] * 40, workers=workers, pure=False
                )
                client.gather(futures)
                del futures

    thread = threading.Thread(target=submit, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
