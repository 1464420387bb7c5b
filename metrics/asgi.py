"""
Serve Prometheus scrapes ahead of Django's request handling.

A scrape needs no session, user or CSRF check, but under ASGI Django runs
every request through its middleware in worker threads, which costs several
milliseconds and queues scrapes behind slow pages. ``MetricsEndpoint``
serves ``GET /metrics`` and ``GET /metrics/workers`` (also under the URL
prefix, for a proxy that keeps it) when the Host is allowed and the bearer
token, if one is set, matches. It hands every other request to Django, whose
views handle the rest, so rejections look the same either way.

Scrapes served here are not counted in django-prometheus's request
families.
"""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from clusterdash.probes import site_headers, site_paths

from .exposition import (
    CONTENT_TYPE,
    SCHEDULER_EXPOSITION,
    WORKER_EXPOSITION,
    SharedExposition,
)
from .views import token_accepted


def allowed_host(host: str) -> bool:
    """Return whether Django would accept ``host`` as the request's Host."""
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


class MetricsEndpoint:
    """ASGI wrapper that serves authorized scrapes and passes on the rest."""

    def __init__(self, application):
        self.application = application
        self.routes: dict[str, SharedExposition] = {}
        for path in site_paths("/metrics"):
            self.routes[path] = SCHEDULER_EXPOSITION
        for path in site_paths("/metrics/workers"):
            self.routes[path] = WORKER_EXPOSITION

    def _exposition(self, scope) -> SharedExposition | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        exposition = self.routes.get(scope["path"])
        if exposition is None:
            return None
        headers = dict(scope["headers"])
        if settings.USE_X_FORWARDED_HOST and b"x-forwarded-host" in headers:
            return None
        host = headers.get(b"host", b"").decode("latin-1")
        if not allowed_host(host):
            return None
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        if not token_accepted(authorization):
            return None
        return exposition

    async def __call__(self, scope, receive, send):
        exposition = self._exposition(scope)
        if exposition is None:
            await self.application(scope, receive, send)
            return
        # The render may wait for the scheduler, so it runs off the event loop.
        body = await asyncio.to_thread(exposition.render)
        headers = site_headers(CONTENT_TYPE, len(body))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
