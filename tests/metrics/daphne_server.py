"""Start daphne with clusterdash on 127.0.0.1, pointed at a scheduler."""

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

#: Ports the tests of these modules may bind.
PORTS = range(8300, 8400)


def free_port(exclude: tuple[int, ...] = ()) -> int:
    """Return a port in 8300-8399 that nothing listens on."""
    for port in PORTS:
        if port in exclude:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8300-8399")


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers at all; raise ``TimeoutError`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout} s") from exc
            time.sleep(0.2)


@contextlib.contextmanager
def daphne(scheduler_address: str, tmp_path: Path, **env: str):
    """Run daphne on a free port for the ``with`` block; yield the port."""
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
    log = open(tmp_path / "daphne.log", "wb")  # noqa: SIM115
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
    try:
        wait_for_http(f"http://127.0.0.1:{port}/metrics")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()
