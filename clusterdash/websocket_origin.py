"""
Reject websocket handshakes from foreign pages and for foreign hosts.

Browsers send cookies with a websocket handshake whatever page opened it,
so a page on another site could read the event stream and the plots with
the visitor's login. ``SiteOriginValidator`` accepts a handshake only when:

- its ``Host`` header, when present, matches ``ALLOWED_HOSTS``, as Django
  requires of every HTTP request (HTTP/1.1 clients always send one);
- its ``Origin`` is absent (clients that are not browsers, such as Dask's
  own event stream readers, send none), or has a host in ``ALLOWED_HOSTS``
  (any scheme and port), or is one of ``CLUSTERDASH_ALLOWED_ORIGINS``.

It also applies the configured URL prefix to websockets as Django applies
it to HTTP: when the proxy passes the prefix on but daphne runs without
``--root-path``, the prefix becomes the scope's ``root_path``, which
Channels' ``URLRouter`` removes before matching.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

logger = logging.getLogger(__name__)


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        # Django's own default for an empty ALLOWED_HOSTS under DEBUG.
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _header(scope, name: bytes) -> str | None:
    for header_name, value in scope.get("headers", []):
        if header_name == name:
            return value.decode("latin1")
    return None


class SiteOriginValidator(OriginValidator):
    """Websocket middleware that checks ``Host`` and ``Origin``."""

    def __init__(self, application):
        super().__init__(application, allowed_origins=[])

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError(
                f"SiteOriginValidator handles websocket scopes, not {scope['type']}"
            )
        scope = self._apply_prefix(scope)
        host = _header(scope, b"host")
        origin = _header(scope, b"origin")
        reason = self._rejection(host, origin)
        if reason is not None:
            logger.warning(
                "Rejected websocket %s (Host %r, Origin %r): %s",
                scope.get("path"),
                host,
                origin,
                reason,
            )
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    @staticmethod
    def _apply_prefix(scope):
        prefix = settings.FORCE_SCRIPT_NAME or ""
        path = scope.get("path", "")
        if scope.get("root_path") or not prefix:
            return scope
        if path == prefix or path.startswith(prefix + "/"):
            return {**scope, "root_path": prefix}
        return scope

    def _rejection(self, host: str | None, origin: str | None) -> str | None:
        if host is not None:
            domain, _port = split_domain_port(host)
            if not domain or not validate_host(domain, _allowed_hosts()):
                return "Host is not in ALLOWED_HOSTS"
        if origin is None:
            return None
        if self.origin_allowed(origin):
            return None
        return "Origin is neither an allowed host nor in CLUSTERDASH_ALLOWED_ORIGINS"

    @staticmethod
    def origin_allowed(origin: str) -> bool:
        """Return whether a browser page at ``origin`` may open websockets."""
        configured = getattr(settings, "CLUSTERDASH_ALLOWED_ORIGINS", [])
        if origin.rstrip("/").lower() in configured:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            # "null" from sandboxed frames and file: pages, or garbage.
            return False
        domain, _port = split_domain_port(parts.netloc.rpartition("@")[2])
        return bool(domain) and validate_host(domain, _allowed_hosts())
