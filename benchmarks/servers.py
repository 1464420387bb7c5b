"""
Start the processes that the comparison measures, all on 127.0.0.1.

- the scheduler, with Dask's own dashboard on, in its own process, so its
  CPU time can be read with psutil;
- worker pools (``worker_pool.py``), at most 50 workers per process;
- clusterdash under daphne, pointed at the same scheduler, with its own
  database and a superuser whose session cookie the measurements send.

Every process is started with ``subprocess.Popen`` and stopped by its PID.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PROJECT = Path(__file__).resolve().parents[1]
BENCHMARKS = PROJECT / "benchmarks"
WORKERS_PER_POOL = 50


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free at the time of the call."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Poll ``url`` until it answers, or raise if the process exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {timeout} s") from None
            time.sleep(0.3)


def stop(process: subprocess.Popen | None) -> None:
    """Terminate one process that this module started, then kill it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class PeakRSS:
    """Highest resident set size of one process, sampled by a thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stopped.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            self._stopped.wait(self.interval)

    def close(self) -> int:
        self._stopped.set()
        self._thread.join()
        return self.peak


@dataclass
class Servers:
    """The running processes of one comparison run and their addresses."""

    work_dir: Path
    scheduler_address: str = ""
    dask_url: str = ""
    clusterdash_url: str = ""
    session_cookie: str = ""
    scheduler: subprocess.Popen | None = None
    pools: list[subprocess.Popen] = field(default_factory=list)
    daphne: subprocess.Popen | None = None

    def start_scheduler(self) -> None:
        port, dashboard_port = free_port(), free_port()
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler"]
            + ["--host", "127.0.0.1", "--port", str(port)]
            + ["--dashboard-address", f"127.0.0.1:{dashboard_port}"],
            # The scheduler unpickles task graphs, so it imports ``tasks`` from
            # here, as the worker pools do (``python -m`` puts the cwd on the path).
            cwd=BENCHMARKS,
            stdout=subprocess.DEVNULL,
            stderr=open(self.work_dir / "scheduler.log", "wb"),  # noqa: SIM115
        )
        self.scheduler_address = f"tcp://127.0.0.1:{port}"
        self.dask_url = f"http://127.0.0.1:{dashboard_port}"
        wait_for_http(f"{self.dask_url}/health", self.scheduler, 60)

    def start_workers(self, count: int) -> None:
        pools = math.ceil(count / WORKERS_PER_POOL)
        for index in range(pools):
            size = min(WORKERS_PER_POOL, count - index * WORKERS_PER_POOL)
            log = open(self.work_dir / f"workers-{index}.log", "wb")  # noqa: SIM115
            self.pools.append(
                subprocess.Popen(
                    [sys.executable, str(BENCHMARKS / "worker_pool.py")]
                    + [self.scheduler_address, "--workers", str(size)],
                    cwd=BENCHMARKS,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )

    def clusterdash_environment(self) -> dict[str, str]:
        var_dir = self.work_dir / "clusterdash-var"
        var_dir.mkdir(exist_ok=True)
        secret_file = self.work_dir / "secret-key"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(50))
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("CLUSTERDASH_")
        }
        environment.update(
            DJANGO_SETTINGS_MODULE="clusterdash.settings",
            CLUSTERDASH_SCHEDULER=self.scheduler_address,
            CLUSTERDASH_VAR_DIR=str(var_dir),
            CLUSTERDASH_SECRET_KEY_FILE=str(secret_file),
        )
        return environment

    def start_clusterdash(self) -> None:
        """Migrate a fresh database, log a superuser in, then start daphne."""
        environment = self.clusterdash_environment()
        manage = [sys.executable, str(PROJECT / "manage.py")]
        subprocess.run(
            manage + ["migrate", "--noinput", "-v", "0"],
            cwd=PROJECT,
            env=environment,
            check=True,
        )
        login = subprocess.run(
            manage + ["shell", "-c", LOGIN_SNIPPET],
            cwd=PROJECT,
            env=environment,
            check=True,
            capture_output=True,
            text=True,
        )
        self.session_cookie = f"sessionid={login.stdout.strip().splitlines()[-1]}"
        port = free_port()
        self.daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["clusterdash.asgi:application"],
            cwd=PROJECT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=open(self.work_dir / "daphne.log", "wb"),  # noqa: SIM115
        )
        self.clusterdash_url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{self.clusterdash_url}/health", self.daphne, 300)

    def close(self) -> None:
        stop(self.daphne)
        for pool in self.pools:
            stop(pool)
        stop(self.scheduler)


# Creates a superuser with a random password and prints the key of a logged-in
# session, which the measurements send as the ``sessionid`` cookie.
LOGIN_SNIPPET = """
import secrets
from django.contrib.auth import get_user_model
from django.test import Client
user = get_user_model().objects.create_superuser(
    "bench", password=secrets.token_urlsafe(16)
)
client = Client()
client.force_login(user)
print(client.cookies["sessionid"].value)
"""
