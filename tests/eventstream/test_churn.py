"""
/eventstream under daphne with many short-lived sockets and bad frames,
while /health is polled: nothing leaks and the site keeps responding.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request

import psutil
import pytest
import websockets

from tests.live import login_session, session_cookie
from tests.metrics.daphne_server import daphne

#: Sockets opened and closed per round, how many are open at once, and rounds.
CHURN_SOCKETS = 1000
CHURN_PARALLEL = 20
CHURN_ROUNDS = 3

#: Bad frames sent on every tenth socket of the churn, with no reply expected.
BAD_FRAMES = ["not json{", b"\x00binary", json.dumps([1, 2])]


def server_process(port: int) -> psutil.Process:
    """Return the process listening on 127.0.0.1:``port``."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return psutil.Process(connection.pid)
    raise AssertionError(f"nothing listens on port {port}")


class HealthPoller(threading.Thread):
    """Request /health every 0.1 s and record each status and duration."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/health"
        self.results: list[tuple[int, float]] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            self.results.append((status, time.monotonic() - started))
            self.stopping.wait(0.1)


async def open_and_close(url: str, index: int, headers: dict[str, str]) -> bool:
    async with websockets.connect(
        url, open_timeout=30, additional_headers=headers
    ) as socket:
        if index % 10 == 0:
            await socket.send(BAD_FRAMES[index // 10 % len(BAD_FRAMES)])
        return True


async def churn(url: str, headers: dict[str, str]) -> list[bool | BaseException]:
    limit = asyncio.Semaphore(CHURN_PARALLEL)

    async def one(index):
        async with limit:
            return await open_and_close(url, index, headers)

    return await asyncio.gather(
        *(one(i) for i in range(CHURN_SOCKETS)), return_exceptions=True
    )


async def burst_and_pong(url: str, headers: dict[str, str]) -> list[dict]:
    messages = []
    async with websockets.connect(url, additional_headers=headers) as socket:
        await socket.send(json.dumps({"name": "ping"}))
        async with asyncio.timeout(20):
            while not any(m["name"] == "pong" for m in messages):
                messages.append(json.loads(await socket.recv()))
    return messages


@pytest.mark.slow
async def test_socket_churn_keeps_site_up(cluster, tmp_path):
    addresses = set(cluster.scheduler_info["workers"])
    with daphne(cluster.scheduler_address, tmp_path) as port:
        url = f"ws://127.0.0.1:{port}/eventstream"
        session = login_session(f"http://127.0.0.1:{port}", "viewer")
        headers = {"Cookie": session_cookie(session)}
        process = server_process(port)
        await burst_and_pong(url, headers)
        poller = HealthPoller(port)
        poller.start()
        try:
            # The first round warms up daphne's and Python's allocators, so
            # the next rounds show what each socket leaves behind.
            outcomes = await churn(url, headers)
            memory_before = process.memory_info().rss
            started = time.monotonic()
            for _ in range(CHURN_ROUNDS - 1):
                outcomes += await churn(url, headers)
        finally:
            elapsed = time.monotonic() - started
            poller.stopping.set()
            poller.join(20)
        messages = await burst_and_pong(url, headers)
        memory_after = process.memory_info().rss
        log = (tmp_path / "daphne.log").read_text(errors="replace")

    failures = [o for o in outcomes if o is not True]
    assert failures == []
    assert elapsed < 240
    assert poller.results
    assert {status for status, _ in poller.results} == {200}
    assert max(duration for _, duration in poller.results) < 5
    workers = {m["worker"] for m in messages if m["name"] == "add_worker"}
    assert workers == addresses
    # Every socket's queue and writer task go with it. On two cores the
    # measured rounds grew the resident size by 5 to 7 MB, and a
    # leak of 10 kB a socket would add 20 MB.
    assert memory_after - memory_before < 20_000_000
    assert "Traceback" not in log
