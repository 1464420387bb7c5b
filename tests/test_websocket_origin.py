"""The websocket router rejects foreign Host and Origin headers."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from clusterdash.websocket_origin import SiteOriginValidator

# Channels closes stale database connections around each handshake, which
# touches the test database once an earlier test has opened it.
pytestmark = pytest.mark.django_db


async def _accepting(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await receive()


async def _connects(headers: list[tuple[bytes, bytes]], path="/eventstream") -> bool:
    application = SiteOriginValidator(_accepting)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


HOST = (b"host", b"127.0.0.1:8000")


@override_settings(
    ALLOWED_HOSTS=["127.0.0.1", "dash.example.org"],
    CLUSTERDASH_ALLOWED_ORIGINS=["http://lab.example.org:8888"],
)
@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),
        (b"http://127.0.0.1:8000", True),
        (b"http://127.0.0.1:9999", True),
        (b"https://dash.example.org", True),
        (b"http://lab.example.org:8888", True),
        (b"http://lab.example.org:8888/", True),
        (b"http://lab.example.org:8889", False),
        (b"https://lab.example.org:8888", False),
        (b"http://evil.test", False),
        (b"http://127.0.0.1.evil.test", False),
        (b"null", False),
        (b"file://", False),
    ],
)
async def test_origin(origin, accepted):
    headers = [HOST] if origin is None else [HOST, (b"origin", origin)]
    assert await _connects(headers) is accepted


@override_settings(ALLOWED_HOSTS=["127.0.0.1"])
@pytest.mark.parametrize(
    ("host", "accepted"),
    [
        (b"127.0.0.1:8000", True),
        (b"127.0.0.1", True),
        (b"evil.test", False),
        (b"evil.test:8000", False),
        (b"", False),
    ],
)
async def test_host(host, accepted):
    assert await _connects([(b"host", host)]) is accepted


@override_settings(ALLOWED_HOSTS=["127.0.0.1"])
async def test_missing_host_accepted():
    # Only clients that are not browsers, such as test communicators, omit it.
    assert await _connects([]) is True


@override_settings(FORCE_SCRIPT_NAME="/team-a/dask")
async def test_prefix_becomes_root_path():
    seen = {}

    async def record(scope, receive, send):
        seen.update(scope)
        await _accepting(scope, receive, send)

    application = SiteOriginValidator(record)
    communicator = WebsocketCommunicator(
        application, "/team-a/dask/eventstream", headers=[HOST]
    )
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    assert connected
    assert seen["root_path"] == "/team-a/dask"
