"""
/eventstream through Channels' WebsocketCommunicator, on the real cluster.

Work is submitted from a thread (``asyncio.to_thread``) because the Dask
client of the fixtures is synchronous.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from distributed import Client
from django.contrib.auth import get_user_model
from django.test import override_settings

from clusterdash.backends import SchedulerUnavailable
from clusterdash.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=False)

application = URLRouter(websocket_urlpatterns)


def viewer_scope_user():
    """Return an unsaved active user, as the session would supply a viewer."""
    return get_user_model()(username="eventstream-viewer", is_active=True)


async def connect():
    communicator = WebsocketCommunicator(application, "/eventstream")
    # Without AuthMiddlewareStack in front, the route's role check reads
    # the user from the scope directly.
    communicator.scope["user"] = viewer_scope_user()
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def receive_until(communicator, done, timeout=20.0):
    """Receive JSON messages until ``done(messages)``; return them all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    messages = []
    while not done(messages):
        remaining = deadline - loop.time()
        assert remaining > 0, f"condition not met; last messages {messages[-5:]}"
        output = await communicator.receive_output(timeout=remaining)
        assert output["type"] == "websocket.send", output
        messages.append(json.loads(output["text"]))
    return messages


async def receive_close(communicator, timeout=10.0):
    """Skip sent messages until the server closes; return the close code."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


def named(messages, name):
    return [m for m in messages if m["name"] == name]


def transitions_for(messages, keys):
    wanted = [json.loads(json.dumps(k)) for k in keys]
    return [m for m in named(messages, "transition") if m["key"] in wanted]


async def test_connect_sends_worker_burst(cluster, backend):
    communicator = await connect()
    addresses = set(cluster.scheduler_info["workers"])
    messages = await receive_until(communicator, lambda m: len(m) >= len(addresses))
    assert {m["worker"] for m in messages} == addresses
    assert all(m["name"] == "add_worker" for m in messages)
    await communicator.disconnect()


async def test_ping_gets_pong(backend):
    communicator = await connect()
    await communicator.send_to(text_data=json.dumps({"name": "ping"}))
    messages = await receive_until(communicator, lambda m: named(m, "pong"))
    timestamp = named(messages, "pong")[0]["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", timestamp)
    await communicator.disconnect()


async def test_unknown_name_is_ignored(backend):
    communicator = await connect()
    await communicator.send_to(text_data=json.dumps({"name": "no-such-thing"}))
    await communicator.send_to(text_data=json.dumps({"name": "ping"}))
    messages = await receive_until(communicator, lambda m: named(m, "pong"))
    assert named(messages, "pong")
    await communicator.disconnect()


async def test_transitions_after_work(backend, dask_client):
    communicator = await connect()
    await asyncio.sleep(0.5)
    keys = [("es-sum", i) for i in range(4)]

    def run():
        futures = dask_client.map(lambda x: x * 2, range(4), key=keys)
        return dask_client.gather(futures)

    assert await asyncio.to_thread(run) == [0, 2, 4, 6]
    messages = await receive_until(
        communicator, lambda m: len(transitions_for(m, keys)) >= 4
    )
    for message in transitions_for(messages, keys):
        assert message["action"] == "compute"
        assert message["status"] == "OK"
        assert re.fullmatch(r"#[0-9A-F]{6}", message["color"])
        assert message["prefix"] == "es-sum"
        assert isinstance(message["key"], list)
        assert message["stop"] >= message["start"]
        assert message["startstops"][0]["action"] == "compute"
        assert message["worker"].startswith("tcp://127.0.0.1:")
        assert message["stimulus_id"].startswith("task-finished")
        assert message["key_segment"].startswith("%28%27es-sum%27%2C%20")
    colors = {m["color"] for m in transitions_for(messages, keys)}
    assert len(colors) == 1
    await communicator.disconnect()


async def test_client_events_and_update_graph(cluster, backend):
    communicator = await connect()
    await asyncio.sleep(0.5)

    def session():
        with Client(cluster, set_as_default=False) as client:
            # Stay connected across polls: a client's own topic, which
            # carries its graph submissions, is cleared when it leaves.
            time.sleep(0.6)
            client.submit(sum, [1, 2], key="es-graph-0").result()
            time.sleep(0.6)
            return client.id

    client_id = await asyncio.to_thread(session)
    messages = await receive_until(
        communicator,
        lambda m: any(
            x["name"] == "remove_client" and x["client"] == client_id for x in m
        ),
    )
    mine = [m["name"] for m in messages if m.get("client") == client_id]
    assert mine[0] == "add_client"
    assert "update_graph" in mine
    assert mine[-1] == "remove_client"
    await communicator.disconnect()


async def test_erred_task_event_is_json(backend, dask_client):
    communicator = await connect()
    await asyncio.sleep(0.5)
    key = ("es-fail <b>", 0)

    def run():
        future = dask_client.submit(lambda: 1 / 0, key=key)
        with pytest.raises(ZeroDivisionError):
            future.result()

    await asyncio.to_thread(run)
    messages = await receive_until(communicator, lambda m: transitions_for(m, [key]))
    message = transitions_for(messages, [key])[0]
    assert message["key"] == ["es-fail <b>", 0]
    assert message["status"] == "error"
    assert message["color"] == "black"
    assert "ZeroDivisionError" in message["exception_text"]
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"text_data": "not json{"}, 1002),
        ({"text_data": json.dumps({"no_name": 1})}, 1002),
        ({"text_data": json.dumps([1, 2])}, 1002),
        ({"bytes_data": b"\x00\x01binary"}, 1003),
        ({"text_data": "x" * 10_000_000}, 1009),
    ],
    ids=["not-json", "no-name", "not-object", "binary", "ten-megabytes"],
)
async def test_malformed_frame_closes_only_that_socket(backend, frame, code):
    bystander = await connect()
    offender = await connect()
    await offender.send_to(**frame)
    assert await receive_close(offender) == code
    await bystander.send_to(text_data=json.dumps({"name": "ping"}))
    messages = await receive_until(bystander, lambda m: named(m, "pong"))
    assert named(messages, "pong")
    await bystander.disconnect()


async def test_two_subscribers_both_receive(backend, dask_client):
    first = await connect()
    second = await connect()
    await asyncio.sleep(0.5)
    keys = [f"es-both-{i}" for i in range(3)]

    def run():
        return dask_client.gather(dask_client.map(len, ["ab"] * 3, key=keys))

    await asyncio.to_thread(run)
    for communicator in (first, second):
        messages = await receive_until(
            communicator, lambda m: len(transitions_for(m, keys)) >= 3
        )
        assert sorted(m["key"] for m in transitions_for(messages, keys)) == keys
        await communicator.disconnect()


async def test_reader_past_queue_limit_is_dropped(backend, dask_client):
    with override_settings(CLUSTERDASH_EVENTSTREAM_QUEUE=3):
        communicator = await connect()
        await asyncio.sleep(0.5)
        keys = [f"es-flood-{i}" for i in range(40)]

        def run():
            return dask_client.gather(dask_client.map(len, ["a"] * 40, key=keys))

        await asyncio.to_thread(run)
        assert await receive_close(communicator, timeout=20) == 1013


async def test_transitions_kept_while_snapshot_fails(backend, dask_client, monkeypatch):
    # The scheduler is slow to answer the stream's first snapshots while the
    # work runs; its transitions must still arrive once a snapshot succeeds.
    snapshot_fails = True
    real_snapshot = backend.asnapshot

    async def slow_snapshot():
        if snapshot_fails:
            raise SchedulerUnavailable(backend.address, "timed out after 2 s")
        return await real_snapshot()

    monkeypatch.setattr(backend, "asnapshot", slow_snapshot)
    communicator = await connect()
    await asyncio.sleep(0.5)
    keys = [("es-late", i) for i in range(3)]

    def run():
        futures = dask_client.map(lambda x: x + 1, range(3), key=keys)
        return dask_client.gather(futures)

    assert await asyncio.to_thread(run) == [1, 2, 3]
    await asyncio.sleep(backend.poll_interval * 5)
    snapshot_fails = False

    messages = await receive_until(
        communicator, lambda m: len(transitions_for(m, keys)) >= 3
    )
    assert sorted(tuple(m["key"]) for m in transitions_for(messages, keys)) == keys
    await communicator.disconnect()
