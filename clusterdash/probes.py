"""
Respond to the liveness probe ahead of Django's request handling.

``GET /health`` reports only that the process serves requests: it reads no
session and no backend, and sets no cookie. Under ASGI, Django runs every
request through its middleware in worker threads, which costs several
milliseconds and queues probes behind slow pages. ``HealthProbe`` responds to
GET and HEAD of ``/health``, and of the prefixed path for a proxy that
keeps the prefix, with the headers Django's security middleware would add,
and hands every other request to Django unchanged.

The Host header is not checked against ``ALLOWED_HOSTS`` here: Kubernetes
sends the pod's address as Host, and the response does not depend on it.
Probes are not counted in django-prometheus's request families.
"""

from __future__ import annotations

from django.conf import settings

BODY = b"ok"


def site_paths(path: str) -> frozenset[str]:
    """Return ``path`` as a request reaches it, with and without the URL prefix.

    A proxy that keeps the prefix passes it on in the request path.
    """
    paths = {path}
    if settings.URL_PREFIX:
        paths.add(f"{settings.URL_PREFIX}{path}")
    return frozenset(paths)


def probe_paths() -> frozenset[str]:
    """Return the request paths that reach the liveness probe."""
    return site_paths("/health")


def site_headers(content_type: str, length: int) -> list[tuple[bytes, bytes]]:
    """Return the headers of a response that skips Django, as Django sends them.

    These are the content headers plus the ones Django's security and
    clickjacking middleware add to every response.
    """
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
        ("X-Frame-Options", settings.X_FRAME_OPTIONS),
    ]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append(("Referrer-Policy", settings.SECURE_REFERRER_POLICY))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        policy = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
        headers.append(("Cross-Origin-Opener-Policy", policy))
    return [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers
    ]


def probe_headers() -> list[tuple[bytes, bytes]]:
    """Return the response headers of the probe, as Django would send them."""
    return site_headers("text/plain; charset=utf-8", len(BODY))


class HealthProbe:
    """ASGI wrapper that responds to the liveness probe and passes on the rest."""

    def __init__(self, application):
        self.application = application
        self.paths = probe_paths()
        self.headers = probe_headers()

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"] in self.paths
        ):
            await send(
                {"type": "http.response.start", "status": 200, "headers": self.headers}
            )
            body = BODY if scope["method"] == "GET" else b""
            await send({"type": "http.response.body", "body": body})
            return
        await self.application(scope, receive, send)
