"""/health under the prefix and on daphne's own port, for probes."""

from __future__ import annotations

from .client import Session
from .servers import PREFIX

PROBES = 1000


def _assert_ok(response, method: str) -> None:
    assert response.status == 200, response.status
    assert response.header("Content-Type").startswith("text/plain")
    assert response.header("Set-Cookie") is None
    if method == "GET":
        assert response.body == b"ok"


def test_health_through_proxy(proxy):
    session = Session(proxy)
    for number in range(PROBES):
        method = "GET" if number % 2 == 0 else "HEAD"
        _assert_ok(session.request(method, PREFIX + "health"), method)
    assert session.cookies == {}


def test_health_on_daphne_port(keep_daphne, strip_daphne):
    for port in (keep_daphne, strip_daphne):
        session = Session(f"http://127.0.0.1:{port}")
        for path in ["/health", PREFIX + "health"]:
            for method in ("GET", "HEAD"):
                _assert_ok(session.request(method, path), method)
