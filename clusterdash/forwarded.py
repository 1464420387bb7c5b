"""
Restore what a reverse proxy changed on a request: the prefix and the scheme.

Under ASGI, Django takes ``request.path`` from the scope's ``path`` as
daphne received it. Behind a proxy that strips the URL prefix, that path
lacks the prefix although ``FORCE_SCRIPT_NAME`` names it, so
``request.get_full_path()`` and ``build_absolute_uri()`` (login ``next``
values, links back to the current page) would point outside the prefix.
``add_script_name`` joins the script name and the path info, as WSGI
requests already do.

A proxy that ends TLS talks plain HTTP to daphne and sends
``X-Forwarded-Proto: https`` with each request. Django's
``SECURE_PROXY_SSL_HEADER`` believes that header from every peer, so any
client could claim https. This middleware believes it only when the
request's peer (``REMOTE_ADDR``, the ASGI ``client``) is listed in
``CLUSTERDASH_TRUSTED_PROXIES``. Then
``request.is_secure()`` is true, URLs built from the request use https,
and every cookie the response sets is marked ``Secure``.
"""

from __future__ import annotations

import functools
import ipaddress

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

#: Values of ``X-Forwarded-Proto`` that change the request's scheme.
FORWARDED_SCHEMES = {"http", "https"}


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def is_trusted_proxy(address: str | None) -> bool:
    """Return whether the peer ``address`` is in CLUSTERDASH_TRUSTED_PROXIES."""
    entries = tuple(getattr(settings, "CLUSTERDASH_TRUSTED_PROXIES", ()))
    if not address or not entries:
        return False
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        # A Unix socket peer has no IP address.
        return False
    return any(peer in network for network in _networks(entries))


def forwarded_scheme(request) -> str | None:
    """Return the scheme a trusted proxy forwarded, or None."""
    if not is_trusted_proxy(request.META.get("REMOTE_ADDR")):
        return None
    header = request.headers.get("X-Forwarded-Proto", "")
    # A chain of proxies may send "https, http"; the first value is the
    # scheme the client used.
    scheme = header.split(",")[0].strip().lower()
    return scheme if scheme in FORWARDED_SCHEMES else None


def add_script_name(request) -> None:
    """Make ``request.path`` the script name followed by the path info."""
    script_name = request.META.get("SCRIPT_NAME", "").rstrip("/")
    if not script_name:
        return
    if request.path == script_name or request.path.startswith(script_name + "/"):
        return
    request.path = script_name + request.path_info


class ForwardedRequestMiddleware:
    """Add the stripped prefix and a trusted proxy's scheme to the request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        add_script_name(request)
        self._apply_scheme(request)
        if iscoroutinefunction(self.get_response):
            return self._acall(request)
        return self._secure_cookies(request, self.get_response(request))

    async def _acall(self, request):
        return self._secure_cookies(request, await self.get_response(request))

    @staticmethod
    def _apply_scheme(request) -> None:
        scheme = forwarded_scheme(request)
        if scheme is None:
            return
        # ASGIRequest reads the scheme from its scope and WSGIRequest (the
        # test client) from its environ, which is request.META.
        if hasattr(request, "scope"):
            request.scope = {**request.scope, "scheme": scheme}
        request.META["wsgi.url_scheme"] = scheme

    @staticmethod
    def _secure_cookies(request, response):
        if request.is_secure():
            for cookie in response.cookies.values():
                cookie["secure"] = True
        return response
