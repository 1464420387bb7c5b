"""
Two daphne processes behind nginx with ``docs/nginx/clusterdash-two-processes.conf``.

Both share a database, a secret key and a real ``redis-server``; one
publishes ``/eventstream`` events. Chromium opens the status page through
nginx with the shipped sticky upstream, and through nginx that sends the
page to one process and its websocket to the other.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from websockets.sync.client import connect

from tests.live import login_browser, login_session, prepare_database, session_cookie
from tests.metrics.daphne_server import daphne
from tests.redis_server import redis_server

from .servers import free_port, nginx, site_config, wait_for_http
from .test_crawl import BOKEH_READY, Recorder

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SITE = "clusterdash-two-processes.conf"
STICKY_LINE = "    hash $cookie_sessionid consistent;\n"


@pytest.fixture(scope="module")
def processes(cluster, tmp_path_factory):
    """Run the two daphne processes; yield their log files."""
    directory = tmp_path_factory.mktemp("two-processes")
    shared = {
        "CLUSTERDASH_DATABASE": str(prepare_database(directory / "shared")),
        "CLUSTERDASH_SECRET_KEY": "two-process-tests-only-secret-key-0123456789",
        "CLUSTERDASH_TRUSTED_PROXIES": "127.0.0.1",
        "CLUSTERDASH_EVENTSTREAM_LAYER": "redis",
    }
    with redis_server(directory / "redis") as redis:
        shared["CLUSTERDASH_REDIS_URL"] = redis.url()
        logs = []
        ports = []
        with contextlib.ExitStack() as stack:
            for name, publisher in (("publisher", "1"), ("relay", "0")):
                process_directory = directory / name
                process_directory.mkdir()
                port = stack.enter_context(
                    daphne(
                        cluster.scheduler_address,
                        process_directory,
                        CLUSTERDASH_EVENTSTREAM_PUBLISHER=publisher,
                        **shared,
                    )
                )
                ports.append(port)
                logs.append(process_directory / "daphne.log")
            yield ports, logs


@pytest.fixture(scope="module")
def sticky_proxy(tmp_path_factory, processes):
    ports, _ = processes
    port = free_port()
    text = site_config(
        SITE,
        {
            "listen 80;": f"listen 127.0.0.1:{port};",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{ports[0]};",
            "server 127.0.0.1:8001;": f"server 127.0.0.1:{ports[1]};",
        },
    )
    with nginx(tmp_path_factory.mktemp("sticky"), text, port):
        origin = f"http://127.0.0.1:{port}"
        wait_for_http(origin + "/health")
        yield origin


@pytest.fixture(scope="module")
def crossed_proxy(tmp_path_factory, processes):
    """
    Return the origin of nginx that sends pages to the first process and
    the status page's websocket to the second: what a proxy without a
    sticky upstream does to some page loads.
    """
    ports, _ = processes
    port = free_port()
    text = site_config(
        SITE,
        {
            "listen 80;": f"listen 127.0.0.1:{port};",
            STICKY_LINE: "",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{ports[0]};",
            "    server 127.0.0.1:8001;\n": "",
            "    location / {\n": (
                "    location = /status/ws {\n"
                f"        proxy_pass http://127.0.0.1:{ports[1]};\n"
                "    }\n\n"
                "    location / {\n"
            ),
        },
    )
    with nginx(tmp_path_factory.mktemp("crossed"), text, port):
        origin = f"http://127.0.0.1:{port}"
        wait_for_http(origin + "/health")
        yield origin


def _log_sizes(logs) -> list[int]:
    return [log.stat().st_size for log in logs]


def _new_lines(logs, sizes) -> list[str]:
    """Return what each log gained since ``sizes`` were taken."""
    gained = []
    for log, size in zip(logs, sizes, strict=True):
        with open(log, "rb") as file:
            file.seek(size)
            gained.append(file.read().decode(errors="replace"))
    return gained


def _open_status(context, origin: str, recorder) -> None:
    page = context.new_page()
    recorder.watch(page)
    response = page.goto(origin + "/status", timeout=60_000)
    assert response is not None
    assert response.status == 200
    page.wait_for_function(BOKEH_READY, timeout=60_000)
    page.close()


def _served_by(gained: list[str], request: str) -> set[int]:
    return {index for index, text in enumerate(gained) if request in text}


@pytest.fixture(scope="module")
def sessions(sticky_proxy, processes):
    """
    Return one viewer session id per process behind the sticky proxy.

    Each login gets a new session cookie and, by its hash, one process;
    the ``GET /health`` after the login shows which one.
    """
    _, logs = processes
    found: dict[int, str] = {}
    # If the hash splits logins evenly, 20 miss a process by a chance of
    # about 1 in 500,000.
    for _ in range(20):
        sizes = _log_sizes(logs)
        session = login_session(sticky_proxy, "viewer")
        landed = _served_by(_new_lines(logs, sizes), '"GET /health"')
        assert len(landed) == 1, landed
        found.setdefault(landed.pop(), session)
        if len(found) == 2:
            return [found[0], found[1]]
    raise AssertionError(f"20 logins all reached process {set(found)}")


def test_sticky_upstream_keeps_login_on_one_process(
    browser, sticky_proxy, processes, sessions
):
    _, logs = processes
    for index, session in enumerate(sessions):
        context = browser.new_context()
        context.add_cookies(
            [{"name": "sessionid", "value": session, "url": sticky_proxy}]
        )
        recorder = Recorder(context, sticky_proxy)
        sizes = _log_sizes(logs)
        _open_status(context, sticky_proxy, recorder)
        context.close()
        gained = _new_lines(logs, sizes)

        assert _served_by(gained, '"GET /status"') == {index}
        assert _served_by(gained, '"WSCONNECT /status/ws"') == {index}
        assert recorder.errors == []
        assert recorder.socket_errors == []


def test_plot_socket_on_other_process(browser, crossed_proxy, processes):
    _, logs = processes
    context = browser.new_context()
    recorder = Recorder(context, crossed_proxy)
    login_browser(context, crossed_proxy, "viewer")
    sizes = _log_sizes(logs)
    _open_status(context, crossed_proxy, recorder)
    context.close()
    gained = _new_lines(logs, sizes)

    # The plots went live although process 0 served the page.
    assert _served_by(gained, '"GET /status"') == {0}
    assert _served_by(gained, '"WSCONNECT /status/ws"') == {1}
    assert recorder.errors == []
    assert recorder.socket_errors == []
    assert "Traceback" not in gained[1]


def _computed(socket, key: str) -> bool:
    """Read ``socket`` for 3 s; return whether ``key``'s compute arrived."""
    deadline = time.monotonic() + 3
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            return False
        if message["name"] != "transition" or message["key"] != key:
            continue
        if message["action"] == "compute":
            return True
    return False


def test_eventstream_through_sticky_proxy(sticky_proxy, sessions, dask_client):
    url = sticky_proxy.replace("http", "ws", 1) + "/eventstream"
    with contextlib.ExitStack() as stack:
        # One socket on the publishing process and one on the relay.
        sockets = [
            stack.enter_context(
                connect(
                    url,
                    additional_headers={
                        "Cookie": session_cookie(session),
                        "Origin": sticky_proxy,
                    },
                )
            )
            for session in sessions
        ]
        # The publisher's first poll only sets its position in the task
        # stream, so rounds repeat until a task reaches the first socket.
        for round_number in range(20):
            key = f"two-processes-{round_number}"
            dask_client.submit(len, "ab", key=key).result()
            if _computed(sockets[0], key):
                break
        else:
            raise AssertionError("no transition reached the publisher's socket")
        key = "two-processes-both"
        dask_client.submit(len, "ab", key=key).result()
        for socket in sockets:
            assert _computed(socket, key)
