"""
/eventstream through channels-redis across two daphne processes.

One process publishes the events it polls from the session cluster into a
real ``redis-server``; the other only relays them to its sockets. Both sit
on the same scheduler, as several daphne processes behind one proxy do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import urllib.request

import pytest
import websockets

from tests.live import login_session, session_cookie
from tests.metrics.daphne_server import daphne
from tests.redis_server import redis_server

from .test_churn import server_process

pytestmark = pytest.mark.slow

# daphne's root handler prints clusterdash's records a second time, without
# the logger name, so the tests count the lines that carry it.
LOST_BATCHES = "info.consumers: Event stream lost"
UNREACHABLE = "info.consumers: Channel layer 'redis' is unreachable"
REACHABLE = "info.consumers: Channel layer 'redis' is reachable again"


def _layer_env(url: str, publisher: bool, **extra: str) -> dict[str, str]:
    return {
        "CLUSTERDASH_REDIS_URL": url,
        "CLUSTERDASH_EVENTSTREAM_LAYER": "redis",
        "CLUSTERDASH_EVENTSTREAM_PUBLISHER": "1" if publisher else "0",
        **extra,
    }


@contextlib.contextmanager
def daphne_pair(cluster, directory, url: str, **publisher_env: str):
    """Run a publishing and a relaying daphne on ``url``; yield their ports."""
    with (
        daphne(
            cluster.scheduler_address,
            directory / "publisher",
            **_layer_env(url, True, **publisher_env),
        ) as publisher,
        daphne(
            cluster.scheduler_address,
            directory / "relay",
            **_layer_env(url, False),
        ) as relay,
    ):
        yield publisher, relay


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def pair(cluster, redis, tmp_path_factory):
    """Return the directory and ports of the publisher and the relay."""
    directory = tmp_path_factory.mktemp("pair")
    (directory / "publisher").mkdir()
    (directory / "relay").mkdir()
    with daphne_pair(cluster, directory, redis.url(0)) as ports:
        yield directory, ports


def _log(directory, name: str) -> str:
    return (directory / name / "daphne.log").read_text(errors="replace")


def _connect(port: int):
    session = login_session(f"http://127.0.0.1:{port}", "viewer")
    return websockets.connect(
        f"ws://127.0.0.1:{port}/eventstream",
        additional_headers={"Cookie": session_cookie(session)},
    )


async def _subscribed(socket) -> None:
    """Wait for a pong, which comes after connect() joined the group."""
    await socket.send(json.dumps({"name": "ping"}))
    async with asyncio.timeout(20):
        while json.loads(await socket.recv())["name"] != "pong":
            pass


async def _transitions(socket, prefix: str, keys: set[str], timeout=60.0):
    """Read frames until every key in ``keys`` had a compute transition."""
    frames: list[str] = []
    computed: set[str] = set()
    async with asyncio.timeout(timeout):
        while computed < keys:
            frame = await socket.recv()
            message = json.loads(frame)
            if message["name"] != "transition":
                continue
            if not str(message["key"]).startswith(prefix):
                continue
            frames.append(frame)
            if message["action"] == "compute":
                computed.add(message["key"])
    return frames


def _run_tasks(dask_client, keys: list[str]) -> None:
    dask_client.gather(dask_client.map(len, ["ab"] * len(keys), key=keys))


async def _warm_up(dask_client, socket, prefix: str) -> None:
    """Run tasks until one reaches ``socket``: the publisher's hub is polling."""
    async with asyncio.timeout(60):
        round_number = 0
        while True:
            key = f"{prefix}-{round_number}"
            await asyncio.to_thread(_run_tasks, dask_client, [key])
            try:
                await _transitions(socket, key, {key}, timeout=2)
            except TimeoutError:
                round_number += 1
                continue
            return


def _health(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
        return r.status


async def test_both_processes_get_same_transitions(pair, dask_client):
    directory, (publisher, relay) = pair
    async with _connect(publisher) as first, _connect(relay) as second:
        await _subscribed(first)
        await _subscribed(second)
        await _warm_up(dask_client, first, "redis-warm")

        keys = [f"redis-same-{i}" for i in range(30)]
        work = asyncio.create_task(asyncio.to_thread(_run_tasks, dask_client, keys))
        from_publisher = await _transitions(first, "redis-same-", set(keys))
        from_relay = await _transitions(second, "redis-same-", set(keys))
        await work

    assert len(from_publisher) >= len(keys)
    assert from_relay == from_publisher
    relay_log = _log(directory, "relay")
    assert LOST_BATCHES not in relay_log
    assert "Traceback" not in relay_log
    assert "Traceback" not in _log(directory, "publisher")


async def _closed_code(socket, timeout=30.0) -> int | None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(timeout):
            while True:
                await socket.recv()
    received = closed.value.rcvd
    return received.code if received else None


async def test_full_layer_logs_lost_batches(cluster, redis, dask_client, tmp_path):
    # With room for one batch, the relay's queue in Redis overflows while
    # the relay process is stopped, and channels-redis drops the rest.
    with daphne_pair(
        cluster, tmp_path, redis.url(1), CLUSTERDASH_REDIS_CAPACITY="1"
    ) as (publisher, relay):
        relay_process = server_process(relay)
        async with (
            _connect(publisher) as first,
            _connect(relay) as second,
            _connect(relay) as third,
        ):
            await _subscribed(first)
            await _subscribed(second)
            await _subscribed(third)
            await _warm_up(dask_client, first, "redis-full-warm")

            relay_process.send_signal(signal.SIGSTOP)
            try:
                for round_number in range(4):
                    key = f"redis-full-stopped-{round_number}"
                    await asyncio.to_thread(_run_tasks, dask_client, [key])
                    await _transitions(first, key, {key})
            finally:
                relay_process.send_signal(signal.SIGCONT)

            key = "redis-full-after"
            await asyncio.to_thread(_run_tasks, dask_client, [key])
            await _transitions(second, key, {key})
            await _transitions(third, key, {key})
        relay_log = _log(tmp_path, "relay")
    gaps = [
        line.split(LOST_BATCHES)[1]
        for line in relay_log.splitlines()
        if LOST_BATCHES in line
    ]
    assert gaps
    assert "CLUSTERDASH_REDIS_CAPACITY" in gaps[0]
    # Both relay sockets saw each gap; the process logs it once.
    assert len(set(gaps)) == len(gaps)


async def test_redis_stopped_mid_stream(pair, redis, dask_client):
    directory, (publisher, relay) = pair
    async with _connect(publisher) as first, _connect(relay) as second:
        await _subscribed(first)
        await _subscribed(second)
        redis.stop()
        # Tasks give the publisher batches to send while Redis is gone.
        work = asyncio.create_task(
            asyncio.to_thread(_run_tasks, dask_client, ["redis-down-0"])
        )
        # daphne lets applications send only 1000 and 3000-4999: 1011 is 4011.
        assert await _closed_code(first) == 4011
        assert await _closed_code(second) == 4011
        await work

    for port in (publisher, relay):
        assert _health(port) == 200
        async with _connect(port) as refused:
            assert await _closed_code(refused) == 4011

    await asyncio.to_thread(_run_tasks, dask_client, ["redis-down-1"])
    redis.start()
    async with _connect(publisher) as first, _connect(relay) as second:
        await _subscribed(first)
        await _subscribed(second)
        key = "redis-back"
        await asyncio.to_thread(_run_tasks, dask_client, [key])
        from_publisher = await _transitions(first, key, {key})
        from_relay = await _transitions(second, key, {key})
    assert from_relay == from_publisher

    publisher_log = _log(directory, "publisher")
    relay_log = _log(directory, "relay")
    for log in (publisher_log, relay_log):
        assert UNREACHABLE in log
        assert "Traceback" not in log
        assert "Exception inside application" not in log
    for log in (publisher_log, relay_log):
        assert log.count(UNREACHABLE) == 1
        assert log.count(REACHABLE) == 1
