"""
Run Debian's ``redis-server`` on 127.0.0.1 for the channel-layer tests.

The server keeps nothing on disk (``--save ''``, ``--appendonly no``), so a
restart starts empty, as a Redis used only for channels-redis may.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    """Return a port that the kernel hands out and nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process that a test may stop and start again."""

    def __init__(self, directory: Path, port: int | None = None):
        self.directory = directory
        self.port = port or free_port()
        self.log_path = directory / "redis.log"
        self.process: subprocess.Popen | None = None

    def url(self, database: int = 0) -> str:
        """Return the ``redis://`` URL of ``database`` on this server."""
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server on its port and wait until it accepts clients."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.log_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while not self._answers_ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.log_path.read_text(errors="replace")[-2000:]
                raise TimeoutError(f"redis-server did not start:\n{log}")
            time.sleep(0.1)

    def stop(self) -> None:
        """End the server by its PID and wait for it to exit."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def redis_server(directory: Path):
    """Run a ``RedisServer`` for the ``with`` block and yield it."""
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
