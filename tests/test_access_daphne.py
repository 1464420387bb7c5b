"""Access control through a real daphne subprocess, with real session cookies."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.live import login_session, session_cookie
from tests.metrics.daphne_server import daphne

pytestmark = pytest.mark.slow

TOKEN = re.compile(r'"token":"([^"]+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Cookie": cookie} if cookie else {}
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def _handshake(url: str, cookie: str | None, subprotocols=None):
    """Return ``("open", subprotocol)`` or ``("rejected", HTTP status)``."""
    headers = {"Cookie": cookie} if cookie else {}
    try:
        async with websockets.connect(
            url, additional_headers=headers, subprotocols=subprotocols, open_timeout=30
        ) as socket:
            return "open", socket.subprotocol
    except InvalidStatus as rejected:
        return "rejected", rejected.response.status_code


async def test_daphne_enforces_roles(cluster, tmp_path):
    with daphne(cluster.scheduler_address, tmp_path) as port:
        base = f"http://127.0.0.1:{port}"
        socket_base = f"ws://127.0.0.1:{port}"
        viewer = session_cookie(login_session(base, "viewer"))
        operator = session_cookie(login_session(base, "operator"))

        page = _get(base + "/info/main/workers.html")
        api = _get(base + "/json/counts.json")
        health = _get(base + "/health")
        ready = _get(base + "/ready")
        viewer_logs = _get(base + "/info/main/logs.html", viewer)
        operator_logs = _get(base + "/info/main/logs.html", operator)

        status, _, html = _get(base + "/individual-cpu", viewer)
        assert status == 200
        token = TOKEN.search(html.decode()).group(1)
        bokeh = ["bokeh", token]
        sockets = {
            "eventstream anonymous": await _handshake(
                socket_base + "/eventstream", None
            ),
            "eventstream viewer": await _handshake(
                socket_base + "/eventstream", viewer
            ),
            "bokeh anonymous": await _handshake(
                socket_base + "/individual-cpu/ws", None, bokeh
            ),
            "bokeh viewer": await _handshake(
                socket_base + "/individual-cpu/ws", viewer, bokeh
            ),
            "proxy anonymous": await _handshake(
                socket_base + "/proxy/1/127.0.0.1/ws", None
            ),
            "proxy viewer": await _handshake(
                socket_base + "/proxy/1/127.0.0.1/ws", viewer
            ),
            "proxy operator": await _handshake(
                socket_base + "/proxy/1/127.0.0.1/ws", operator
            ),
        }
    log = (tmp_path / "daphne.log").read_text()

    assert page[0] == 302
    assert page[1]["Location"].startswith("/accounts/login/?next=")
    assert api[0] == 401
    assert health[0] == 200
    assert "Set-Cookie" not in health[1]
    assert ready == (200, ready[1], b"ok")
    assert "Set-Cookie" not in ready[1]
    assert viewer_logs[0] == 403
    assert operator_logs[0] == 200
    assert sockets == {
        "eventstream anonymous": ("rejected", 403),
        "eventstream viewer": ("open", None),
        "bokeh anonymous": ("rejected", 403),
        "bokeh viewer": ("open", "bokeh"),
        "proxy anonymous": ("rejected", 403),
        "proxy viewer": ("rejected", 403),
        "proxy operator": ("rejected", 403),
    }
    # daphne turns every close before accept into 403, so only the log
    # distinguishes the role check (4401, 4403) from the proxy's target check.
    assert "Rejected websocket /eventstream with code 4401" in log
    assert "Rejected websocket /individual-cpu/ws with code 4401" in log
    assert "Rejected websocket /proxy/1/127.0.0.1/ws with code 4401" in log
    assert "Rejected websocket /proxy/1/127.0.0.1/ws with code 4403" in log
    assert "Rejected websocket /eventstream with code 4403" not in log
    assert "Websocket proxy rejected Worker <127.0.0.1:1> does not exist" in log
