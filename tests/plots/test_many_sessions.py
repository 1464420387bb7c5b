"""
Many Bokeh sessions over real HTTP and websockets leave nothing behind.

Daphne runs in a thread of the test process, so the test can count the
sessions and the running periodic callbacks on the server's event loop.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import threading
import time
import urllib.request

import pytest
from bokeh.util.tornado import _AsyncPeriodic
from django.test import AsyncClient, override_settings

from .server import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS = 200

#: Sessions open at the same time.
WAVE = 20

#: Plots the sessions cycle through; the status page has seven panels.
PATHS = (
    "/individual-workers",
    "/individual-workers-network",
    "/individual-workers-cpu-timeseries",
    "/individual-contention",
    "/individual-progress",
    "/status",
)

#: Seconds a session may live without a websocket, during this test.
LIFETIME = 1.0
REAPER_INTERVAL = 0.2

TOKEN = re.compile(r'"token":"([^"]+)"')


@pytest.fixture(scope="module")
def daphne_thread():
    """Serve the site with daphne on a thread; yield (base URL, event loop)."""
    from daphne.server import Server, twisted_loop
    from twisted.internet import reactor

    from clusterdash.asgi import application

    port = free_port()
    server = Server(
        application,
        endpoints=[f"tcp:port={port}:interface=127.0.0.1"],
        signal_handlers=False,
        # Live sessions share this process with the session cluster's
        # scheduler, so a handshake may wait for a busy event loop.
        websocket_handshake_timeout=60,
    )
    thread = threading.Thread(target=server.run, name="daphne", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    yield base, twisted_loop
    # Twisted's reactor cannot be started again in this process.
    reactor.callFromThread(reactor.stop)
    thread.join(10)


def _running_periodic_callbacks(loop) -> int:
    """Count Bokeh periodic callbacks still scheduled on ``loop``."""
    count = 0
    for obj in gc.get_objects():
        # type() never dereferences a weak proxy, unlike isinstance().
        if type(obj) is not _AsyncPeriodic:
            continue
        if obj._started and not obj._stopped and obj._loop.asyncio_loop is loop:
            count += 1
    return count


def _session_count(loop) -> int:
    """Count Bokeh sessions, read on the server's own event loop."""
    from plots import bokeh_server

    future = asyncio.run_coroutine_threadsafe(_read(bokeh_server.session_count), loop)
    return future.result(10)


async def _read(function):
    return function()


def _fetch_token(url: str, cookie: str) -> str:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        html = response.read().decode()
    return TOKEN.search(html).group(1)


async def _open(base: str, path: str, connections: list, cookie: str) -> None:
    from websockets.asyncio.client import connect

    token = await asyncio.to_thread(_fetch_token, base + path, cookie)
    socket_url = "ws" + base.removeprefix("http") + path + "/ws"
    websocket = await connect(
        socket_url,
        subprotocols=["bokeh", token],
        origin=base,
        additional_headers={"Cookie": cookie},
        open_timeout=30,
        max_size=None,
    )
    # Bokeh's ACK message is three frames: header, metadata and content.
    header = json.loads(await asyncio.wait_for(websocket.recv(), 30))
    assert header["msgtype"] == "ACK"
    connections.append(websocket)


def test_default_reaping_within_minute():
    from plots import bokeh_server

    # A closed tab's session lives DEFAULT_SESSION_LIFETIME seconds, and the
    # reaper finds it within one more pass.
    reaped_after = (
        bokeh_server.DEFAULT_SESSION_LIFETIME + bokeh_server.DEFAULT_REAPER_INTERVAL
    )
    assert reaped_after < 60


async def test_closed_sessions_leave_nothing(backend, daphne_thread, plain_user):
    base, loop = daphne_thread
    # The transactional database commits the user, so the daphne thread
    # can load the session of this logged-in viewer.
    client = AsyncClient()
    await client.aforce_login(plain_user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    with override_settings(
        CLUSTERDASH_BOKEH_SESSION_LIFETIME=LIFETIME,
        CLUSTERDASH_BOKEH_REAPER_INTERVAL=REAPER_INTERVAL,
    ):
        limit = asyncio.Semaphore(5)
        opened = 0
        # Tabs open and close in waves. With all 200 live at once, page
        # requests timed out after 30 s on a shared two-core machine, because
        # this process also runs the session cluster's scheduler.
        for wave in range(SESSIONS // WAVE):
            connections: list = []

            async def open_one(index: int, connections=connections) -> None:
                async with limit:
                    await _open(base, PATHS[index % len(PATHS)], connections, cookie)

            await asyncio.gather(*(open_one(wave * WAVE + i) for i in range(WAVE)))
            assert len(connections) == WAVE
            opened += len(connections)
            # Sessions of earlier waves may still wait for the reaper.
            assert _session_count(loop) >= WAVE
            assert _running_periodic_callbacks(loop) >= WAVE
            await asyncio.gather(*(websocket.close() for websocket in connections))
        assert opened == SESSIONS

        # The reaper discards a session LIFETIME seconds after its socket
        # closed; allow it a few passes beyond that.
        deadline = time.monotonic() + LIFETIME + 20 * REAPER_INTERVAL + 5
        while time.monotonic() < deadline:
            if _session_count(loop) == 0 and _running_periodic_callbacks(loop) == 0:
                break
            await asyncio.sleep(REAPER_INTERVAL)
        assert _session_count(loop) == 0
        assert _running_periodic_callbacks(loop) == 0
