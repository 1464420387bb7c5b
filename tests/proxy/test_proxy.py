"""The /proxy route: allowed targets relay, every other target is rejected."""

from __future__ import annotations

import json
import socket
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings

from clusterdash.asgi import application
from clusterdash.proxy import proxy_timeout

#: A port in the tests' range that no worker serves; a listener sits on it.
LISTENER_PORT = 8548


@pytest.fixture
def listener():
    """Listen on 127.0.0.1:LISTENER_PORT and report whether anyone connected."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", LISTENER_PORT))
    server.listen(16)
    server.setblocking(False)

    def connections() -> int:
        count = 0
        while True:
            try:
                connection, _ = server.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1

    yield connections
    server.close()


@pytest.fixture
def worker(proxy_cluster):
    return proxy_cluster.workers[0]


def proxy_url(port, host, path):
    return f"/proxy/{port}/{host}/{path}"


def rejected_targets(cluster):
    first, second = cluster.workers
    return [
        ("alias", first.dashboard_port, "localhost"),
        ("other worker's port", second.dashboard_port, first.host),
        ("worker comm port", first.port, first.host),
        ("scheduler dashboard", cluster.scheduler_dashboard_port, "127.0.0.1"),
        (
            "scheduler port",
            int(cluster.scheduler_address.rsplit(":", 1)[1]),
            "127.0.0.1",
        ),
        ("random port", LISTENER_PORT, "127.0.0.1"),
        ("unknown host", first.dashboard_port, "127.0.0.9"),
        ("injection", LISTENER_PORT, "<><><>"),
        ("leading zero", f"0{first.dashboard_port}", first.host),
    ]


# HTTP -------------------------------------------------------------------------


def test_anonymous_redirects_to_login(client, worker, listener):
    response = client.get(proxy_url(worker.dashboard_port, worker.host, "health"))
    assert response.status_code == 302
    assert (
        response["Location"].startswith(settings.LOGIN_URL)
        or "login" in (response["Location"])
    )
    response = client.get(proxy_url(LISTENER_PORT, "127.0.0.1", "health"))
    assert response.status_code == 302
    assert listener() == 0


def test_viewer_is_forbidden(viewer_client, worker, listener):
    response = viewer_client.get(
        proxy_url(worker.dashboard_port, worker.host, "health")
    )
    assert response.status_code == 403
    response = viewer_client.get(proxy_url(LISTENER_PORT, "127.0.0.1", "health"))
    assert response.status_code == 403
    assert listener() == 0


async def _body(response) -> bytes:
    # The proxy streams most responses, and their chunks must be read on the
    # loop that made them. Rewritten autoload scripts arrive whole.
    if not response.streaming:
        return response.content
    return b"".join([chunk async for chunk in response.streaming_content])


async def _json(response):
    return json.loads(await _body(response))


@pytest.mark.django_db(transaction=True)
async def test_staff_reaches_each_worker(staff_async_client, proxy_cluster):
    for worker in proxy_cluster.workers:
        response = await staff_async_client.get(
            proxy_url(worker.dashboard_port, worker.host, "health")
        )
        assert response.status_code == 200
        assert await _body(response) == b"ok"
        metrics = await staff_async_client.get(
            proxy_url(worker.dashboard_port, worker.host, "metrics")
        )
        assert metrics.status_code == 200
        assert b"dask_worker_threads" in await _body(metrics)


@pytest.mark.django_db(transaction=True)
async def test_worker_bokeh_page_relays(staff_async_client, worker):
    response = await staff_async_client.get(
        proxy_url(worker.dashboard_port, worker.host, "status")
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"bokeh" in (await _body(response)).lower()


@pytest.mark.django_db(transaction=True)
async def test_upstream_status_relays(staff_async_client, worker):
    response = await staff_async_client.get(
        proxy_url(worker.dashboard_port, worker.host, "no-such-page")
    )
    assert response.status_code == 404
    await _body(response)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["redirect", "path-redirect"])
async def test_redirect_stays_behind_proxy(staff_async_client, worker, route):
    response = await staff_async_client.get(
        proxy_url(worker.dashboard_port, worker.host, route)
    )
    assert response.status_code == 302
    expected = proxy_url(worker.dashboard_port, worker.host, f"echo?from={route}")
    assert response["Location"] == expected
    await _body(response)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("app", ["status", "profile"])
@pytest.mark.parametrize("server_url", ["", "http://dash.example.org"])
async def test_autoload_urls_behind_proxy(staff_async_client, worker, app, server_url):
    prefix = proxy_url(worker.dashboard_port, worker.host, "")
    query = {"bokeh-autoload-element": "plot", "bokeh-app-path": f"/{app}"}
    if server_url:
        query["bokeh-absolute-url"] = f"{server_url}{prefix}{app}"
    response = await staff_async_client.get(prefix + f"{app}/autoload.js", query)
    assert response.status_code == 200
    script = (await _body(response)).decode()
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert f'"{server_url}{prefix}static/js/bokeh.min.js?v=' in script
    assert f'"{server_url}/static/' not in script
    assert f'.embed_items(docs_json, render_items, "{prefix}{app}"' in script


@pytest.mark.django_db(transaction=True)
async def test_get_drops_credentials(staff_async_client, worker):
    staff_async_client.cookies["extra"] = "site-cookie"
    response = await staff_async_client.get(
        proxy_url(worker.dashboard_port, worker.host, "echo") + "?a=1&b=%2F",
        headers={
            "Authorization": "Bearer site-token",
            "X-CSRFToken": "site-csrf",
            "X-Test": "kept",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "dropped",
        },
    )
    assert response.status_code == 200
    assert not response.has_header("Set-Cookie")
    assert "upstream" not in response.cookies
    assert response["X-Upstream"] == "echo"
    echo = await _json(response)
    assert echo["method"] == "GET"
    assert echo["path"] == "/echo"
    assert echo["query"] == "a=1&b=%2F"
    headers = echo["headers"]
    assert "cookie" not in headers
    assert "authorization" not in headers
    assert "x-csrftoken" not in headers
    assert "x-hop" not in headers
    assert headers.get("x-test") == "kept"


@pytest.mark.django_db(transaction=True)
async def test_post_relays_body(staff_async_client, worker):
    body = b"x" * 200_000 + b"end"
    response = await staff_async_client.post(
        proxy_url(worker.dashboard_port, worker.host, "echo"),
        data=body,
        content_type="application/octet-stream",
        headers={"Authorization": "Basic c2l0ZTpzZWNyZXQ="},
    )
    assert response.status_code == 200
    echo = await _json(response)
    assert echo["method"] == "POST"
    assert echo["body"].encode("latin-1") == body
    assert "authorization" not in echo["headers"]
    assert "cookie" not in echo["headers"]


@pytest.mark.django_db(transaction=True)
async def test_other_methods_relay(staff_async_client, worker):
    target = proxy_url(worker.dashboard_port, worker.host, "echo")
    for method in ("put", "patch", "delete"):
        response = await getattr(staff_async_client, method)(
            target, data=b"payload", content_type="text/plain"
        )
        assert response.status_code == 200, method
        echo = await _json(response)
        assert echo["method"] == method.upper()
        assert echo["body"] == "payload"


def test_rejected_targets_connect_nowhere(staff_client, proxy_cluster, listener):
    for case, port, host in rejected_targets(proxy_cluster):
        for method in ("get", "post"):
            response = getattr(staff_client, method)(proxy_url(port, host, "health"))
            assert response.status_code == 400, (case, method)
            body = response.content.decode()
            assert "does not exist" in body, case
            assert "<><><>" not in body, case
    assert listener() == 0


def test_injection_is_escaped(staff_client):
    response = staff_client.get(proxy_url(LISTENER_PORT, "<script>x</script>", "a"))
    # The slash inside the tag ends the host segment; still not a worker.
    assert response.status_code == 400
    response = staff_client.get(proxy_url(LISTENER_PORT, "<><><>", "a"))
    assert response.status_code == 400
    assert "Worker &lt;&lt;&gt;&lt;&gt;&lt;&gt;:8548&gt; does not exist" in (
        response.content.decode()
    )


def test_frozen_worker_times_out(staff_client, proxy_cluster):
    worker = proxy_cluster.workers[1]
    limit = proxy_timeout() + 5.0
    worker.freeze()
    try:
        started = time.monotonic()
        response = staff_client.get(
            proxy_url(worker.dashboard_port, worker.host, "health")
        )
        elapsed = time.monotonic() - started
    finally:
        worker.thaw()
    assert response.status_code == 504
    assert elapsed < limit
    assert "did not answer" in response.content.decode()


# Websocket --------------------------------------------------------------------


def _session_cookie(client, user):
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _open(path, cookie=None):
    headers = [(b"origin", b"http://testserver")]
    if cookie is not None:
        name = settings.SESSION_COOKIE_NAME
        headers.append((b"cookie", f"{name}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=10)
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
def test_websocket_relays_for_staff(client, staff_user, worker):
    cookie = _session_cookie(client, staff_user)

    async def exchange():
        path = proxy_url(worker.dashboard_port, worker.host, "echo-ws")
        communicator, connected, _ = await _open(path, cookie)
        assert connected
        await communicator.send_to(text_data="hello")
        text = await communicator.receive_from(timeout=10)
        await communicator.send_to(bytes_data=b"\x00\x01")
        data = await communicator.receive_output(timeout=10)
        await communicator.disconnect()
        return text, data

    text, data = async_to_sync(exchange)()
    assert text == "hello"
    assert data["bytes"] == b"\x00\x01"


@pytest.mark.django_db(transaction=True)
def test_websocket_rejects_users(client, plain_user, worker, listener):
    viewer_cookie = _session_cookie(client, plain_user)

    async def attempts():
        results = []
        # Anonymous users get 4401 and logged-in viewers 4403.
        for cookie, expected in ((None, 4401), (viewer_cookie, 4403)):
            for port, host in (
                (worker.dashboard_port, worker.host),
                (LISTENER_PORT, "127.0.0.1"),
            ):
                communicator, connected, code = await _open(
                    proxy_url(port, host, "echo-ws"), cookie
                )
                results.append((connected, code, expected))
                await communicator.wait()
        return results

    for connected, code, expected in async_to_sync(attempts)():
        assert not connected
        assert code == expected
    assert listener() == 0


@pytest.mark.django_db(transaction=True)
def test_websocket_rejects_targets(client, staff_user, proxy_cluster, listener):
    cookie = _session_cookie(client, staff_user)

    async def attempts():
        results = []
        for case, port, host in rejected_targets(proxy_cluster):
            communicator, connected, _ = await _open(
                proxy_url(port, host, "echo-ws"), cookie
            )
            results.append((case, connected))
            await communicator.wait()
        return results

    for case, connected in async_to_sync(attempts)():
        assert not connected, case
    assert listener() == 0
