"""
``/proxy/<port>/<host>/<path>``: a reverse proxy to a worker's own HTTP server.

Dask's proxy relays websockets to any host and port, which makes it an
open relay. This one forwards HTTP of every method and websockets only
when ``host`` and ``port`` are exactly a current worker's ``host`` and
``services["dashboard"]`` port in the shared snapshot. Any other target
(an alias such as ``localhost`` for ``127.0.0.1``, the scheduler's port,
an unknown host) is rejected with 400 before any outbound connection.

Only users with the operator role (``clusterdash.access``) may use it,
for every HTTP method and for websockets. The upstream request carries
none of the site's cookies, its ``Authorization`` header or its CSRF
token, and upstream ``Set-Cookie`` headers are dropped, so a worker page
cannot read or set the site's session. Hop-by-hop headers are not forwarded either way.

A worker's pages name their assets relative to the page, so they stay
under ``/proxy/<port>/<host>/`` whatever prefix the site has. The two
places where a worker writes paths from its own root are rewritten:
``Location`` headers, and the resource and websocket paths of Bokeh's
``autoload.js`` scripts.

NOTE: relayed pages run in the site's origin, as with Dask's proxy, so a
worker that serves hostile scripts can act for the staff user who opens
them. Proxy only workers you trust as much as the site.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

import httpx
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.html import escape
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from clusterdash.access import OPERATOR, WebsocketRoleMiddleware, operator_page
from clusterdash.backends import SchedulerUnavailable, get_backend
from clusterdash.backends.types import Snapshot

logger = logging.getLogger(__name__)

#: Hop-by-hop headers: they describe one connection, not the message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

#: Request headers that carry the site's own credentials or are set anew.
PRIVATE_REQUEST_HEADERS = frozenset(
    {"cookie", "authorization", "x-csrftoken", "host", "content-length"}
)

#: Response headers not relayed to the browser.
DROPPED_RESPONSE_HEADERS = frozenset({"set-cookie", "set-cookie2"})

#: Seconds the upstream server may take for its response head and for each
#: later read, unless the ``CLUSTERDASH_PROXY_TIMEOUT`` setting sets another
#: value. Connecting is bounded by the backend's ``worker_timeout``. This is
#: longer than that because a worker's first Bokeh page can take several
#: seconds to render on a busy host.
DEFAULT_TIMEOUT = 10.0

#: Bytes read from the request body per upstream chunk.
CHUNK_SIZE = 64 * 1024

#: Websocket close code sent when the upstream socket closes abnormally.
CLOSE_UPSTREAM_FAILED = 1014

#: Largest Bokeh autoload script, in bytes, that the proxy reads to rewrite.
#: The scripts load BokehJS by URL, so they stay far below this.
MAX_AUTOLOAD_BYTES = 1024 * 1024

#: Response headers that describe the upstream bytes, which a rewrite changes.
REWRITTEN_RESPONSE_HEADERS = frozenset({"content-length", "content-encoding", "etag"})

#: The application path that a Bokeh autoload script passes to
#: ``embed_items``, from which BokehJS derives the session's websocket URL.
AUTOLOAD_APP_PATH = re.compile(r'(\.embed_items\(docs_json, render_items, )("/[^"]*")')


class TargetRejected(Exception):
    """The proxy target is not a current worker's dashboard."""

    def __init__(self, host: str, port: str, status: int = 400):
        super().__init__(f"Worker <{host}:{port}> does not exist")
        self.host = host
        self.port = port
        self.status = status


def find_target(snapshot: Snapshot, port: str, host: str) -> tuple[str, int]:
    """
    Return ``(host, port)`` when they are exactly a worker's dashboard.

    Compares text, so ``localhost`` does not match ``127.0.0.1`` and
    ``08787`` does not match ``8787``. Raises ``TargetRejected`` otherwise.
    """
    for worker in snapshot.workers:
        dashboard = worker.services.get("dashboard")
        if dashboard is None:
            continue
        if worker.host == host and str(dashboard) == port:
            return worker.host, int(dashboard)
    raise TargetRejected(host, port)


async def _resolve(port: str, host: str) -> tuple[str, int]:
    try:
        snapshot = await get_backend().asnapshot()
    except SchedulerUnavailable:
        raise TargetRejected(host, port, status=503) from None
    return find_target(snapshot, port, host)


def proxy_timeout() -> float:
    """Return the seconds an upstream read may take."""
    return float(getattr(settings, "CLUSTERDASH_PROXY_TIMEOUT", DEFAULT_TIMEOUT))


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _upstream_path(path: str, query: str) -> str:
    quoted = quote(path, safe="/:@!$&'()*+,;=~")
    return f"/{quoted}?{query}" if query else f"/{quoted}"


def _error(status: int, message: str) -> HttpResponse:
    body = (
        "<!DOCTYPE html><html><head><title>Proxy error</title></head>"
        f"<body><p>{escape(message)}</p></body></html>"
    )
    return HttpResponse(body, status=status, content_type="text/html; charset=utf-8")


def _request_headers(request: HttpRequest) -> dict[str, str]:
    listed = {
        name.strip().lower()
        for name in request.headers.get("Connection", "").split(",")
        if name.strip()
    }
    headers = {}
    for name, value in request.headers.items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in PRIVATE_REQUEST_HEADERS or lower in listed:
            continue
        headers[name] = value
    return headers


def _response_headers(upstream: httpx.Response) -> list[tuple[str, str]]:
    listed = {
        name.strip().lower()
        for name in upstream.headers.get("connection", "").split(",")
        if name.strip()
    }
    kept = []
    for name, value in upstream.headers.multi_items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in DROPPED_RESPONSE_HEADERS or lower in listed:
            continue
        kept.append((name, value))
    return kept


async def _request_body(request: HttpRequest) -> AsyncIterator[bytes]:
    # Django's ASGI handler has spooled the body already; read it in chunks
    # so a large upload is not held in memory twice.
    while True:
        chunk = await sync_to_async(request.read, thread_sensitive=False)(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


# CSRF protection stays on: a relayed POST, PUT or DELETE acts with the
# operator's session, so a page on another site must not be able to send
# one. A worker page that posts through the proxy without Django's CSRF
# token therefore gets 403; Dask's worker pages only read (GET).
@operator_page
async def proxy_view(request: HttpRequest, port: str, host: str, path: str):
    """Relay one HTTP request to a worker's dashboard server."""
    try:
        target_host, target_port = await _resolve(port, host)
    except TargetRejected as exc:
        if exc.status == 503:
            return _error(503, "The scheduler is unavailable, so no worker is known.")
        return _error(exc.status, str(exc))
    authority = _authority(target_host, target_port)
    url = f"http://{authority}" + _upstream_path(
        path, request.META.get("QUERY_STRING", "")
    )
    timeout = proxy_timeout()
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=get_backend().worker_timeout),
        follow_redirects=False,
        trust_env=False,
    )
    try:
        upstream = await _send(client, request, url)
    except httpx.TimeoutException:
        await client.aclose()
        logger.warning("Proxy request to %s timed out", url)
        return _error(504, f"Worker {authority} did not answer within {timeout:g} s.")
    except httpx.HTTPError as exc:
        await client.aclose()
        logger.warning("Proxy request to %s failed: %s", url, exc)
        return _error(502, f"Request to worker {authority} failed: {exc}")
    prefix = reverse("proxy", kwargs={"port": port, "host": host, "path": ""})
    if _is_autoload(path, upstream):
        server_url = _origin_of(request.GET.get("bokeh-absolute-url", ""))
        return await _rewritten_autoload(client, upstream, url, prefix, server_url)
    return _relay_response(client, upstream, url, f"http://{authority}/", prefix)


async def _send(client: httpx.AsyncClient, request: HttpRequest, url: str):
    length = request.headers.get("Content-Length") or "0"
    has_body = request.method in ("POST", "PUT", "PATCH") or length != "0"
    upstream_request = client.build_request(
        request.method,
        url,
        headers=_request_headers(request),
        content=_request_body(request) if has_body else None,
    )
    return await client.send(upstream_request, stream=True)


def _relayed_location(value: str, origin: str, prefix: str) -> str:
    """
    Return a worker's ``Location`` header as a URL behind the proxy.

    An absolute URL on the worker itself and a path from the worker's root
    both stay under ``prefix``. Other URLs pass unchanged.
    """
    if value.startswith(origin):
        return prefix + value[len(origin) :]
    if value.startswith("/") and not value.startswith("//"):
        return prefix + value[1:]
    return value


def _is_autoload(path: str, upstream: httpx.Response) -> bool:
    content_type = upstream.headers.get("content-type", "")
    return (
        upstream.status_code == 200
        and (path == "autoload.js" or path.endswith("/autoload.js"))
        and "javascript" in content_type
    )


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def rewrite_autoload(script: str, prefix: str, server_url: str = "") -> str:
    """
    Move the URLs in a Bokeh autoload script under the proxy's ``prefix``.

    Bokeh's server writes its resources as paths from its root
    (``"/static/js/bokeh.min.js"``), or from ``server_url``, the origin of
    the request's ``bokeh-absolute-url``, when the request names one. It
    passes the application path (``"/status"``) to ``embed_items``, which
    opens the websocket at that path plus ``/ws``. All would leave the proxy.
    """
    base = prefix.rstrip("/")
    script = script.replace('"/static/', f'"{base}/static/')
    if server_url:
        script = script.replace(
            f'"{server_url}/static/', f'"{server_url}{base}/static/'
        )

    def app_path(match: re.Match) -> str:
        path = json.loads(match.group(2))
        # BokehJS reads "/" as the root and appends "/ws" to anything else.
        return match.group(1) + json.dumps(base + ("" if path == "/" else path))

    return AUTOLOAD_APP_PATH.sub(app_path, script)


async def _rewritten_autoload(
    client: httpx.AsyncClient,
    upstream: httpx.Response,
    url: str,
    prefix: str,
    server_url: str,
) -> HttpResponse:
    """Read a Bokeh autoload script whole and return it rewritten."""
    try:
        body = bytearray()
        async for chunk in upstream.aiter_bytes():
            body += chunk
            if len(body) > MAX_AUTOLOAD_BYTES:
                logger.warning("Autoload script from %s is too large to rewrite", url)
                return _error(502, f"The autoload script from {url} is too large.")
    except httpx.HTTPError as exc:
        logger.warning("Proxy response from %s broke off: %s", url, exc)
        return _error(502, f"Reading the autoload script from {url} failed: {exc}")
    finally:
        await upstream.aclose()
        await client.aclose()
    text = body.decode(upstream.encoding or "utf-8")
    script = rewrite_autoload(text, prefix, server_url)
    response = HttpResponse(script.encode("utf-8"), status=upstream.status_code)
    del response["Content-Type"]
    for name, value in _response_headers(upstream):
        if name.lower() in REWRITTEN_RESPONSE_HEADERS:
            continue
        response.headers[name] = value
    response["Content-Type"] = "application/javascript; charset=utf-8"
    return response


def _relay_response(
    client: httpx.AsyncClient,
    upstream: httpx.Response,
    url: str,
    origin: str,
    prefix: str,
) -> StreamingHttpResponse:
    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            logger.warning("Proxy response from %s broke off: %s", url, exc)
        finally:
            await upstream.aclose()
            await client.aclose()

    response = StreamingHttpResponse(relay(), status=upstream.status_code)
    # Django sets a default content type; the upstream one replaces it.
    del response["Content-Type"]
    for name, value in _response_headers(upstream):
        if name.lower() == "location":
            value = _relayed_location(value, origin, prefix)
        response.headers[name] = value
    return response


class ProxyConsumer(AsyncWebsocketConsumer):
    """
    Relay a websocket to a worker's dashboard server.

    The route's ``WebsocketRoleMiddleware`` rejects the handshake (HTTP 403)
    for users without the operator role, and ``connect`` rejects targets
    that are not a worker's dashboard, before any outbound connection.
    """

    async def connect(self):
        self.upstream = None
        self.relay_task = None

        kwargs = self.scope["url_route"]["kwargs"]
        try:
            target_host, target_port = await _resolve(kwargs["port"], kwargs["host"])
        except TargetRejected as exc:
            logger.info("Websocket proxy rejected %s", exc)
            await self.close()
            return

        query = self.scope.get("query_string", b"").decode("latin-1")
        url = "ws://" + _authority(target_host, target_port)
        url += _upstream_path(kwargs["path"], query)
        timeout = proxy_timeout()
        try:
            self.upstream = await websocket_connect(
                url,
                subprotocols=self.scope.get("subprotocols") or None,
                open_timeout=timeout,
                close_timeout=timeout,
                max_size=None,
                proxy=None,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            logger.warning("Websocket proxy to %s failed: %s", url, exc)
            await self.close()
            return

        await self.accept(self.upstream.subprotocol)
        self.relay_task = asyncio.create_task(self._relay_upstream())

    async def _relay_upstream(self):
        code = 1000
        try:
            async for message in self.upstream:
                if isinstance(message, bytes):
                    await self.send(bytes_data=message)
                else:
                    await self.send(text_data=message)
        except ConnectionClosed as exc:
            code = CLOSE_UPSTREAM_FAILED if exc.rcvd is None else exc.rcvd.code
        rcvd = self.upstream.close_rcvd
        if rcvd is not None:
            code = rcvd.code
        await self.close(code=code if 1000 <= code < 5000 and code != 1005 else 1000)

    async def receive(self, text_data=None, bytes_data=None):
        if self.upstream is None:
            return
        try:
            await self.upstream.send(
                bytes_data if bytes_data is not None else text_data
            )
        except ConnectionClosed:
            await self.close()

    async def disconnect(self, code):
        if self.relay_task is not None:
            self.relay_task.cancel()
        if self.upstream is not None:
            await self.upstream.close()


#: Dask's route shape: the port is digits, the host one path segment, and
#: the rest the upstream path.
PROXY_PATTERN = r"^proxy/(?P<port>[0-9]+)/(?P<host>[^/]*)/(?P<path>.*)$"


def websocket_urlpatterns() -> list:
    """Return the proxy's websocket route, open to the operator role only."""
    from django.urls import re_path

    consumer = WebsocketRoleMiddleware(ProxyConsumer.as_asgi(), OPERATOR)
    return [re_path(PROXY_PATTERN, consumer)]
