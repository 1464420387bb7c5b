"""
The ``/eventstream`` websocket, with Dask's message names and fields.

One ``EventHub`` per process and event loop polls the shared snapshot and
the backend's task stream, works out what changed (workers, clients, graph
submissions, restarts, finished tasks) and hands the encoded frames to every
subscriber directly. The scheduler's cost therefore does not grow with the
number of open sockets, and, unlike Dask, any number of subscribers receive
every event.

Each subscriber has a bounded queue. A reader that falls behind by more than
``CLUSTERDASH_EVENTSTREAM_QUEUE`` messages, or whose socket buffer in daphne
grows past ``CLUSTERDASH_EVENTSTREAM_BUFFER_BYTES``, is closed with code
1013, so a stalled browser cannot grow the server's memory.

With ``CLUSTERDASH_EVENTSTREAM_LAYER`` set to a channel-layer alias, events
travel through that layer instead, so several daphne processes can serve
the stream: one process (``CLUSTERDASH_EVENTSTREAM_PUBLISHER``) polls and
publishes numbered batches, and a subscriber that sees a gap in the numbers
logs how many batches the layer dropped. While the layer is unreachable the
publisher keeps polling and drops its batches, and sockets that read from
the layer are closed with code 1011 (4011 under daphne); both are logged
once per outage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import math
import sys
from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import RedisError

from clusterdash.backends import SchedulerUnavailable, get_backend
from clusterdash.backends.types import Snapshot, TaskStreamRecord
from clusterdash.keys import key_to_link_segment

logger = logging.getLogger(__name__)

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013

#: Base of the application close codes used where a server rejects 1002-1013.
APPLICATION_CLOSE_BASE = 4000

#: Seconds a subscriber's full socket buffer may stay full before the
#: subscriber counts as stalled.
STALL_SECONDS = 10.0

#: Channel-layer group that carries event batches between processes.
GROUP = "clusterdash.eventstream"

#: Errors of a channel layer whose server cannot be reached. channels-redis
#: raises redis-py's, which wraps socket errors in its ConnectionError and
#: TimeoutError. OSError stays out, so other failures are not blamed on
#: the layer.
LAYER_ERRORS = (RedisError,)

#: Colours of the non-compute actions, as Dask's task stream draws them.
ACTION_COLORS = {
    "transfer": "red",
    "disk-read": "orange",
    "disk-write": "orange",
    "deserialize": "gray",
}


# Encoding -------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def encode(message: dict[str, Any]) -> str:
    """Return ``message`` as JSON text; tuple keys become arrays."""
    try:
        return json.dumps(message, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_json_safe(message), allow_nan=False)


def pong() -> dict[str, Any]:
    """Return the reply to a ping, with Dask's local timestamp format."""
    return {
        "timestamp": datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f"),
        "name": "pong",
    }


def transition_messages(record: TaskStreamRecord) -> list[dict[str, Any]]:
    """
    Return one Dask ``transition`` message per ``startstops`` entry.

    Beside Dask's fields each message carries ``prefix`` (Dask overwrites its
    own prefix field with the message name) and ``key_segment``, the key as
    the task page's URL path segment. A failed task also carries
    ``exception_text``; Dask sends no message for failed tasks at all.
    """
    key_segment = key_to_link_segment(
        record.key, settings.CLUSTERDASH_MAX_KEY_URL_LENGTH
    )
    startstops = [dict(entry) for entry in record.startstops]
    messages = []
    for entry in startstops:
        action = entry.get("action")
        if action == "compute":
            color = record.prefix_color if record.status == "OK" else "black"
        else:
            color = ACTION_COLORS.get(action, "black")
        message = {
            "key": record.key,
            "name": "transition",
            "color": color,
            "stimulus_id": record.stimulus_id,
            "worker": record.worker,
            "metadata": {},
            "nbytes": record.nbytes,
            "typename": record.typename,
            "thread": record.thread,
            "startstops": startstops,
            "status": record.status,
            **entry,
            "prefix": record.prefix,
            "key_segment": key_segment,
        }
        if record.exception_text:
            message["exception_text"] = record.exception_text
        messages.append(message)
    return messages


#: Events of the scheduler's ``all`` topic and the messages they become.
TOPIC_MESSAGES = {
    "add-worker": ("add_worker", "worker"),
    "remove-worker": ("remove_worker", "worker"),
    "add-client": ("add_client", "client"),
    "remove-client": ("remove_client", "client"),
}


def snapshot_messages(previous: Snapshot, current: Snapshot) -> list[dict[str, Any]]:
    """
    Return the messages for what changed between two snapshots.

    Workers and clients that came and went are read from the scheduler's
    ``all`` topic, in order, so one that lived shorter than a poll interval
    is reported too. Comparing the two sets of workers and clients adds
    whatever the topic's kept tail no longer covers.
    """
    messages: list[dict[str, Any]] = []
    if previous.scheduler.id != current.scheduler.id:
        messages.append({"name": "restart"})
        previous = dataclasses.replace(previous, all_topic=None)
    seen = set()
    if current.all_topic is not None:
        for action, subject in current.all_topic.new_events(previous.all_topic):
            if action == "restart-workers":
                messages.append({"name": "restart"})
            elif action in TOPIC_MESSAGES and subject:
                name, field = TOPIC_MESSAGES[action]
                messages.append({field: subject, "name": name})
                seen.add((name, subject))
    for message in _set_changes(previous, current):
        subject = message.get("worker") or message.get("client")
        if (message["name"], subject) not in seen:
            messages.append(message)
    old_clients = {c.id: c for c in previous.client_list}
    for client in current.client_list:
        for _ in range(_graph_updates(old_clients.get(client.id), client)):
            messages.append({"client": client.id, "name": "update_graph"})
    return messages


def _set_changes(previous: Snapshot, current: Snapshot) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    old_workers = {w.address for w in previous.workers}
    new_workers = {w.address for w in current.workers}
    for address in sorted(old_workers - new_workers):
        messages.append({"worker": address, "name": "remove_worker"})
    for address in sorted(new_workers - old_workers):
        messages.append({"worker": address, "name": "add_worker"})
    old_clients = {c.id for c in previous.client_list}
    new_clients = {c.id for c in current.client_list}
    for client_id in sorted(old_clients - new_clients):
        messages.append({"client": client_id, "name": "remove_client"})
    for client_id in sorted(new_clients - old_clients):
        messages.append({"client": client_id, "name": "add_client"})
    return messages


def _graph_updates(previous, current) -> int:
    if previous is None:
        # A client that appeared since the last poll: every graph it sent
        # is in its (short) topic.
        # NOTE: a client that connects, submits and disconnects within one
        # poll interval gets add_client and remove_client but no
        # update_graph, because the scheduler clears a client's topic when
        # it leaves.
        return current.topic.recent_actions.count("update-graph")
    return current.topic.new_actions(previous.topic).count("update-graph")


# Fan-out --------------------------------------------------------------------


class EventHub:
    """
    Detect cluster events once per process and hand them to subscribers.

    The hub's task runs on the event loop that created it while it has
    subscribers (or, as the publisher of a channel layer, from the first
    connection on) and stops by itself otherwise.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.subscribers: set[EventStreamConsumer] = set()
        self._task: asyncio.Task | None = None
        self._sequence = 0

    def add(self, subscriber: EventStreamConsumer) -> None:
        """Add a subscriber and start the polling task if it is not running."""
        self.subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._task = self.loop.create_task(self._run(), name="clusterdash-events")

    def discard(self, subscriber: EventStreamConsumer) -> None:
        """Remove a subscriber; the task ends once none is left."""
        self.subscribers.discard(subscriber)

    def _keep_running(self) -> bool:
        return bool(self.subscribers) or _publishes_to_layer()

    async def _run(self) -> None:
        previous: Snapshot | None = None
        cursor: int | None = None
        backend = None
        while self._keep_running():
            current_backend = get_backend()
            if current_backend is not backend:
                # A new backend (the setting changed) has its own positions.
                backend, previous, cursor = current_backend, None, None
            if cursor is None:
                # Start at the newest record this process keeps, before the
                # first snapshot: if that snapshot fails, the records fetched
                # when the scheduler answers again are still delivered.
                _, cursor = await backend.atask_stream(sys.maxsize)
            try:
                messages, previous, cursor = await self._poll(backend, previous, cursor)
            except SchedulerUnavailable:
                messages = []
            except Exception:
                logger.exception("Event stream poll failed")
                messages = []
            if messages:
                await self.publish([encode(m) for m in messages])
            await asyncio.sleep(backend.poll_interval)

    async def _poll(self, backend, previous, cursor):
        snapshot = await backend.asnapshot()
        records, cursor = await backend.atask_stream(cursor)
        messages = [] if previous is None else snapshot_messages(previous, snapshot)
        for record in records:
            messages.extend(transition_messages(record))
        return messages, snapshot, cursor

    async def publish(self, frames: list[str]) -> None:
        """Send encoded frames to every subscriber, or to the channel layer."""
        alias = settings.CLUSTERDASH_EVENTSTREAM_LAYER
        if alias:
            if settings.CLUSTERDASH_EVENTSTREAM_PUBLISHER:
                await self._send_batch(alias, frames)
            return
        for subscriber in list(self.subscribers):
            subscriber.offer(frames)

    async def _send_batch(self, alias: str, frames: list[str]) -> None:
        self._sequence += 1
        try:
            await get_channel_layer(alias).group_send(
                GROUP,
                {"type": "eventstream.batch", "seq": self._sequence, "frames": frames},
            )
        except LAYER_ERRORS as exc:
            layer_status.failed(alias, exc)
        else:
            layer_status.reached(alias)


class LayerStatus:
    """The channel layer's state as seen by this process, to log each change once."""

    def __init__(self) -> None:
        self.unreachable = False
        self.last_gap_end: int | None = None

    def failed(self, alias: str, exc: BaseException) -> None:
        """Log the first failure of an outage; later ones only at debug."""
        if self.unreachable:
            logger.debug("Channel layer %r still unreachable: %s", alias, exc)
            return
        self.unreachable = True
        logger.warning(
            "Channel layer %r is unreachable, so /eventstream events are "
            "lost until it is back: %s: %s",
            alias,
            type(exc).__name__,
            exc,
        )

    def lost_batches(self, last: int, sequence: int) -> None:
        """
        Log batches ``last + 1`` to ``sequence - 1`` as lost.

        Every socket of a process reads the same queue in Redis and so sees
        the same gap; only the first one logs it.
        """
        if sequence == self.last_gap_end:
            return
        self.last_gap_end = sequence
        logger.warning(
            "Event stream lost %d batches (%d to %d) in the channel layer, "
            "which was full; raise its capacity (CLUSTERDASH_REDIS_CAPACITY)",
            sequence - last - 1,
            last + 1,
            sequence - 1,
        )

    def reached(self, alias: str) -> None:
        """Log the end of an outage."""
        if self.unreachable:
            self.unreachable = False
            logger.warning("Channel layer %r is reachable again", alias)


layer_status = LayerStatus()


def _publishes_to_layer() -> bool:
    return bool(
        settings.CLUSTERDASH_EVENTSTREAM_LAYER
        and settings.CLUSTERDASH_EVENTSTREAM_PUBLISHER
    )


_hub: EventHub | None = None


def get_hub() -> EventHub:
    """Return the hub of the running event loop, creating it if needed."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop or loop.is_closed():
        _hub = EventHub(loop)
    return _hub


# Consumer -------------------------------------------------------------------


def _socket_backlog(send) -> int | None:
    """
    Return the bytes waiting in daphne's socket buffer, or None if unknown.

    daphne hands each application ``partial(Server.handle_reply, protocol)``
    as ``send``; the protocol's Twisted transport keeps unsent bytes in
    ``dataBuffer`` (from ``offset`` on) and ``_tempDataLen``. Under other
    servers this returns None and only the message queue bounds the reader.
    """
    if not isinstance(send, functools.partial) or not send.args:
        return None
    transport = getattr(send.args[0], "transport", None)
    buffer = getattr(transport, "dataBuffer", None)
    if buffer is None:
        return None
    pending = len(buffer) - getattr(transport, "offset", 0)
    return pending + getattr(transport, "_tempDataLen", 0)


class EventStreamConsumer(AsyncWebsocketConsumer):
    """
    Serve Dask's ``/eventstream`` messages to one websocket.

    On connect it sends ``add_worker`` for every current worker; afterwards
    it relays what the hub detects. Clients may send ``{"name": "ping"}``
    and receive ``pong``; other names are ignored. Input that is not a JSON
    object with a ``name`` closes the socket with 1002, a binary frame with
    1003 and a frame above ``CLUSTERDASH_EVENTSTREAM_MAX_FRAME`` bytes with
    1009. With a channel layer, a socket whose layer fails is closed with
    1011 (4011 under daphne).
    """

    @property
    def channel_layer_alias(self) -> str:
        """
        Alias of the layer this consumer's channel lives in.

        Batches are sent to the group on ``CLUSTERDASH_EVENTSTREAM_LAYER``,
        so the channel that ``AsyncConsumer`` creates and reads must belong
        to that layer too.
        """
        return settings.CLUSTERDASH_EVENTSTREAM_LAYER or DEFAULT_CHANNEL_LAYER

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except LAYER_ERRORS as exc:
            # The read from the layer failed; the client is still connected
            # unless connect() or receive() closed the socket already.
            layer_status.failed(self.channel_layer_alias, exc)
            if not getattr(self, "_closing", False):
                self._stop()
                await self._close_with(CLOSE_INTERNAL_ERROR)

    async def connect(self) -> None:
        self._queue: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._last_sequence: int | None = None
        self._hub: EventHub | None = None
        await self.accept()
        self._writer = asyncio.create_task(self._write_loop())
        try:
            snapshot = await get_backend().asnapshot()
        except SchedulerUnavailable:
            snapshot = None
        if snapshot is not None:
            self.offer(
                encode({"worker": w.address, "name": "add_worker"})
                for w in snapshot.workers
            )
        alias = settings.CLUSTERDASH_EVENTSTREAM_LAYER
        if alias:
            # NOTE: channels-redis forgets a group member after its
            # group_expiry (one day by default), so a socket open that long
            # stops receiving events without an error.
            try:
                await get_channel_layer(alias).group_add(GROUP, self.channel_name)
            except LAYER_ERRORS as exc:
                layer_status.failed(alias, exc)
                self._stop()
                await self._close_with(CLOSE_INTERNAL_ERROR)
                return
            layer_status.reached(alias)
        self._hub = get_hub()
        self._hub.add(self)

    async def disconnect(self, code: int) -> None:
        self._stop()
        alias = settings.CLUSTERDASH_EVENTSTREAM_LAYER
        if alias and getattr(self, "channel_name", None):
            try:
                await get_channel_layer(alias).group_discard(GROUP, self.channel_name)
            except LAYER_ERRORS as exc:
                # Redis drops the membership itself after channels-redis's
                # group_expiry (one day by default).
                layer_status.failed(alias, exc)

    async def receive(self, text_data: str | None = None, bytes_data=None) -> None:
        if text_data is None:
            await self._close_for(CLOSE_UNSUPPORTED_DATA, "a binary frame")
            return
        limit = settings.CLUSTERDASH_EVENTSTREAM_MAX_FRAME
        if len(text_data) > limit or len(text_data.encode("utf-8", "replace")) > limit:
            await self._close_for(CLOSE_MESSAGE_TOO_BIG, f"a frame over {limit} bytes")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self._close_for(CLOSE_PROTOCOL_ERROR, "text that is not JSON")
            return
        if not isinstance(message, dict) or "name" not in message:
            await self._close_for(CLOSE_PROTOCOL_ERROR, "JSON without a name field")
            return
        if message["name"] == "ping":
            self.offer([encode(pong())])

    async def eventstream_batch(self, event: dict[str, Any]) -> None:
        """Relay one numbered batch that the publisher sent through the layer."""
        sequence = event.get("seq")
        last = self._last_sequence
        if isinstance(sequence, int):
            if last is not None and sequence > last + 1:
                layer_status.lost_batches(last, sequence)
            self._last_sequence = sequence
        self.offer(event.get("frames") or ())

    def offer(self, frames: Iterable[str]) -> None:
        """Queue frames for this socket, or drop the socket if it fell behind."""
        if self._closing:
            return
        self._queue.extend(frames)
        if len(self._queue) > settings.CLUSTERDASH_EVENTSTREAM_QUEUE:
            self._drop_slow_reader(f"{len(self._queue)} messages queued")
            return
        self._wakeup.set()

    async def _write_loop(self) -> None:
        limit = settings.CLUSTERDASH_EVENTSTREAM_BUFFER_BYTES
        while not self._closing:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue and not self._closing:
                await self.send(text_data=self._queue.popleft())
                backlog = _socket_backlog(self.base_send)
                if backlog is not None and backlog > limit:
                    if not await self._wait_for_flush(limit):
                        self._drop_slow_reader(f"{backlog} bytes unsent")
                        return

    async def _wait_for_flush(self, limit: int) -> bool:
        """
        Wait until daphne's socket buffer falls to half of ``limit``.

        Writes reach the socket only when the event loop runs the server, so
        a burst fills the buffer even for a fast reader. Return False when
        the buffer stays full for ``STALL_SECONDS``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STALL_SECONDS
        while loop.time() < deadline and not self._closing:
            await asyncio.sleep(0.05)
            backlog = _socket_backlog(self.base_send)
            if backlog is None or backlog <= limit // 2:
                return True
        return False

    def _drop_slow_reader(self, reason: str) -> None:
        logger.warning("Closing a stalled /eventstream reader: %s", reason)
        self._stop()
        asyncio.ensure_future(self._close_with(CLOSE_TRY_AGAIN_LATER))

    async def _close_for(self, code: int, description: str) -> None:
        logger.info("Closing an /eventstream socket that sent %s", description)
        self._stop()
        await self._close_with(code)

    async def _close_with(self, code: int) -> None:
        """
        Close with an RFC 6455 code, or with 4000 + its last three digits.

        daphne's websocket library lets applications send only 1000 and
        3000-4999 and raises on other codes, so under daphne 1002 arrives as
        4002, 1003 as 4003 and 1013 as 4013. daphne closes frames above its
        ``--websocket-max-message-size`` (1 MiB by default) itself, with 1009.
        """
        try:
            await self.close(code=code)
        except Exception:
            await self.close(code=APPLICATION_CLOSE_BASE + code % 1000)

    def _stop(self) -> None:
        # Also runs from disconnect() of a socket whose connect() failed
        # early, so every attribute may still be missing.
        self._closing = True
        queue = getattr(self, "_queue", None)
        if queue is not None:
            queue.clear()
        hub = getattr(self, "_hub", None)
        if hub is not None:
            hub.discard(self)
        writer = getattr(self, "_writer", None)
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
