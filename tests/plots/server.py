"""Run daphne with clusterdash on 127.0.0.1 for the browser tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.live import prepare_database

PROJECT = Path(__file__).resolve().parents[2]

#: Ports the plot tests may bind.
PORTS = range(8700, 8800)


def free_port() -> int:
    """Return a port in 8700-8799 that nothing listens on."""
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8700-8799")


@contextlib.contextmanager
def daphne(scheduler_address: str, tmp_path: Path, **env: str):
    """Run daphne on a free port for the ``with`` block; yield its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clusterdash.settings",
        "CLUSTERDASH_SCHEDULER": scheduler_address,
        "CLUSTERDASH_VAR_DIR": str(tmp_path),
        "CLUSTERDASH_DATABASE": str(prepare_database(tmp_path)),
        "CLUSTERDASH_POLL_INTERVAL": "0.2",
        **env,
    }
    log_path = tmp_path / "daphne.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "clusterdash.asgi:application",
            ],
            cwd=PROJECT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(base + "/health", log_path)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_http(url: str, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                log = log_path.read_text(errors="replace")[-2000:]
                raise TimeoutError(
                    f"{url} did not answer in {timeout} s:\n{log}"
                ) from exc
            time.sleep(0.2)
