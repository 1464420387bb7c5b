"""/eventstream served by a real daphne, read with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import websockets

from tests.live import login_session, session_cookie
from tests.metrics.daphne_server import daphne

from .test_churn import server_process


async def receive_json(socket, done, timeout=20.0):
    messages = []
    async with asyncio.timeout(timeout):
        while not done(messages):
            messages.append(json.loads(await socket.recv()))
    return messages


def _viewer_headers(port: int) -> dict[str, str]:
    session = login_session(f"http://127.0.0.1:{port}", "viewer")
    return {"Cookie": session_cookie(session)}


@pytest.mark.slow
async def test_daphne_serves_eventstream(cluster, tmp_path):
    addresses = set(cluster.scheduler_info["workers"])
    with daphne(cluster.scheduler_address, tmp_path) as port:
        url = f"ws://127.0.0.1:{port}/eventstream"
        viewer = _viewer_headers(port)
        async with (
            websockets.connect(url, additional_headers=viewer) as reader,
            websockets.connect(url, additional_headers=viewer) as bad,
        ):
            burst = await receive_json(reader, lambda m: len(m) >= len(addresses))
            assert {m["worker"] for m in burst} == addresses
            await reader.send(json.dumps({"name": "ping"}))
            messages = await receive_json(
                reader, lambda m: any(x["name"] == "pong" for x in m)
            )
            assert messages[-1]["name"] == "pong"

            await bad.send("not json{")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await bad.recv()
            # daphne only lets applications send 1000 and 3000-4999.
            assert closed.value.rcvd.code == 4002

            await reader.send(json.dumps({"name": "ping"}))
            messages = await receive_json(
                reader, lambda m: any(x["name"] == "pong" for x in m)
            )
            assert messages[-1]["name"] == "pong"

        for frame, codes in ((b"\x00binary", {4003}), ("x" * 10_000_000, {1009, None})):
            async with websockets.connect(
                url, max_size=None, additional_headers=viewer
            ) as sender:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    async with asyncio.timeout(10):
                        await sender.send(frame)
                        while True:
                            await sender.recv()
                # daphne drops the TCP connection right after its 1009 close
                # frame, so the client may see a reset before that frame.
                received = closed.value.rcvd
                assert (received.code if received else None) in codes

        with pytest.raises(urllib.error.HTTPError) as plain:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/eventstream", timeout=5)
        assert plain.value.code in (400, 404, 426)


async def stream_round(dask_client, keys, live):
    """Run tasks under ``keys`` and read their transitions from ``live``."""

    def run():
        dask_client.gather(dask_client.map(len, ["a"] * len(keys), key=keys))

    wanted = set(keys)
    work = asyncio.create_task(asyncio.to_thread(run))
    received = 0
    async with asyncio.timeout(120):
        while received < len(keys):
            message = json.loads(await live.recv())
            if message["name"] == "transition" and message["key"] in wanted:
                received += 1
    await work
    return received


@pytest.mark.slow
async def test_stalled_reader_dropped_live_one_kept(cluster, dask_client, tmp_path):
    count = 2000
    # Long keys make each message about 12 kB, 24 MB in all: more than the
    # kernel's loopback socket buffers absorb, so daphne's own buffer for
    # the stalled reader passes the 200 kB limit.
    baseline_keys = [f"es-base-{'x' * 4000}-{i}" for i in range(count)]
    keys = [f"es-stall-{'x' * 4000}-{i}" for i in range(count)]
    with daphne(
        cluster.scheduler_address,
        tmp_path,
        CLUSTERDASH_EVENTSTREAM_BUFFER_BYTES="200000",
    ) as port:
        url = f"ws://127.0.0.1:{port}/eventstream"
        viewer = _viewer_headers(port)
        process = server_process(port)
        # A first round with only a live reader measures what the same
        # events cost the server (task-stream window, snapshots) without
        # a stalled reader.
        async with websockets.connect(url, additional_headers=viewer) as live:
            await asyncio.sleep(1.0)
            memory_start = process.memory_info().rss
            await stream_round(dask_client, baseline_keys, live)
        memory_baseline = process.memory_info().rss
        async with (
            websockets.connect(url, max_queue=1, additional_headers=viewer) as stalled,
            websockets.connect(url, additional_headers=viewer) as live,
        ):
            await asyncio.sleep(1.0)
            received = await stream_round(dask_client, keys, live)
            # The server's close frame waits behind megabytes of unread
            # frames, so the server log is where the drop shows.
            async with asyncio.timeout(30):
                while "Closing a stalled" not in (tmp_path / "daphne.log").read_text():
                    await asyncio.sleep(0.5)
            memory_stalled = process.memory_info().rss
            stalled.transport.abort()
        log = (tmp_path / "daphne.log").read_text()
    assert received == count
    assert "Closing a stalled /eventstream reader" in log
    # Keeping the stalled reader's 24 MB would show as that much growth
    # beyond the baseline round's. Measured on two cores: 11 MB for the
    # baseline round, 16 MB for the round with the stalled reader.
    baseline_growth = memory_baseline - memory_start
    stalled_growth = memory_stalled - memory_baseline
    assert stalled_growth < baseline_growth + 12_000_000
