"""Websocket handshakes through nginx: Host and Origin checks, both modes."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .client import Session
from .servers import PREFIX


def _handshake(
    url: str, headers: dict[str, str], origin: str | None, **connection
) -> int:
    """Open the websocket ``url``; return 101 or the rejecting status."""

    async def attempt() -> int:
        try:
            async with connect(
                url,
                additional_headers=headers,
                origin=origin,
                open_timeout=20,
                proxy=None,
                **connection,
            ):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    return asyncio.run(attempt())


@pytest.fixture(scope="module")
def cookie_header(proxy):
    session = Session(proxy)
    assert session.login(PREFIX, PREFIX).status == 302
    return {
        "Cookie": "; ".join(
            f"{name}={value}" for name, value in session.cookies.items()
        )
    }


def _eventstream(proxy: str) -> str:
    return proxy.replace("http", "ws", 1) + PREFIX + "eventstream"


def test_own_origin_accepted(proxy, cookie_header):
    assert _handshake(_eventstream(proxy), cookie_header, proxy) == 101


def test_own_host_other_port_accepted(proxy, cookie_header):
    assert _handshake(_eventstream(proxy), cookie_header, "http://localhost:1") == 101


def test_missing_origin_accepted(proxy, cookie_header):
    assert _handshake(_eventstream(proxy), cookie_header, None) == 101


def test_configured_origin_accepted(keep_proxy, frame_origin):
    session = Session(keep_proxy)
    session.login(PREFIX, PREFIX)
    headers = {"Cookie": f"sessionid={session.cookies['sessionid']}"}
    url = _eventstream(keep_proxy)
    assert _handshake(url, headers, frame_origin) == 101
    # The same origin string on another port is not configured.
    assert _handshake(url, headers, "http://evil.test:" + frame_origin[-4:]) == 403


@pytest.mark.parametrize(
    "origin", ["http://evil.test", "https://127.0.0.1.evil.test", "null"]
)
def test_foreign_origin_rejected(proxy, cookie_header, origin):
    assert _handshake(_eventstream(proxy), cookie_header, origin) == 403


def test_foreign_host_rejected(proxy, cookie_header):
    # The URL names the foreign host, and the connection goes to nginx.
    port = urlsplit(proxy).port
    url = f"ws://evil.test:{port}{PREFIX}eventstream"
    status = _handshake(url, cookie_header, None, host="127.0.0.1", port=port)
    assert status == 403


def test_bokeh_socket_checked_too(proxy, cookie_header):
    url = proxy.replace("http", "ws", 1) + PREFIX + "status/ws"
    assert _handshake(url, cookie_header, "http://evil.test") == 403
