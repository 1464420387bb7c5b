"""
Filters and tags that put cluster data into pages and links.

Task keys and worker addresses reach URLs only through these helpers: a key
becomes ``keys.key_to_link_segment`` and an address ``quote(addr, safe="")``,
and ``segment_url`` reverses a URL name around that pre-quoted segment.
"""

from __future__ import annotations

import datetime
import functools
import math
from urllib.parse import quote

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from clusterdash import keys

register = template.Library()


@register.filter
def key_segment(key) -> str:
    """Return the URL path segment that links to task ``key``."""
    return keys.key_to_link_segment(key, settings.CLUSTERDASH_MAX_KEY_URL_LENGTH)


@register.filter
def address_segment(address: str) -> str:
    """Return a worker address percent-encoded as one URL path segment."""
    return quote(str(address), safe="")


@register.filter
def key_text(key) -> str:
    """Return the text that represents ``key`` on pages and in URLs."""
    return keys.key_to_text(key)


#: Placeholder for the segment when a route is reversed once for many links.
SEGMENT_PLACEHOLDER = "clusterdash-segment"


@functools.lru_cache(maxsize=256)
def _around_segment(name: str, script_prefix: str, urlconf) -> tuple[str, str]:
    url = reverse(name, args=[SEGMENT_PLACEHOLDER], urlconf=urlconf)
    head, _, tail = url.rpartition(SEGMENT_PLACEHOLDER)
    return head, tail


@functools.lru_cache(maxsize=4096)
def _proxy_url(port: int, host: str, script_prefix: str, urlconf) -> str:
    kwargs = {"port": port, "host": host, "path": "status"}
    try:
        return reverse("proxy", kwargs=kwargs, urlconf=urlconf)
    except NoReverseMatch:
        return ""


@receiver(setting_changed)
def _forget_reversed_urls(*, setting: str, **kwargs) -> None:
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME", "URL_PREFIX"}:
        _around_segment.cache_clear()
        _proxy_url.cache_clear()


@register.simple_tag
def segment_url(name: str, segment: str) -> str:
    """
    Return the URL of route ``name`` with a segment that is already encoded.

    ``reverse`` would quote the segment again, turning each ``%`` into
    ``%25``, and it costs tens of microseconds, which a table of a few
    hundred rows pays several times a row. So each route is reversed once,
    around a placeholder, for each script prefix, and the segment goes in
    its place.
    """
    head, tail = _around_segment(name, get_script_prefix(), get_urlconf())
    return head + segment + tail


@register.simple_tag
def dashboard_proxy_url(worker) -> str:
    """
    Return the proxied link to a worker's own dashboard, or "" if none.

    Empty when the worker runs no ``dashboard`` service or the site has no
    ``proxy`` route.
    """
    port = worker.services.get("dashboard")
    if not port:
        return ""
    return _proxy_url(port, worker.host, get_script_prefix(), get_urlconf())


@register.simple_tag
def page_url(request, **changes) -> str:
    """Return the current query string with ``changes`` applied, as ``?...``."""
    query = request.GET.copy()
    for name, value in changes.items():
        if value is None or value == "":
            query.pop(name, None)
        else:
            query[name] = value
    return "?" + query.urlencode()


@register.filter
def format_bytes(value) -> str:
    """Format a byte count with binary units and two decimals, like Dask."""
    if value is None:
        return "unknown"
    count = float(value)
    for prefix, factor in (
        ("Pi", 2**50),
        ("Ti", 2**40),
        ("Gi", 2**30),
        ("Mi", 2**20),
        ("ki", 2**10),
    ):
        # Dask switches to the larger unit from 0.9 of it on.
        if count >= factor * 0.9:
            return f"{count / factor:.2f} {prefix}B"
    return f"{int(count)} B"


@register.filter
def format_time(value) -> str:
    """Format seconds as ``dask.utils.format_time`` does (``20m 34s``)."""
    if value is None:
        return "unknown"
    seconds = float(value)
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds > 2 * 24 * 3600:
        days = int(seconds / (24 * 3600))
        return f"{days}d {int((seconds - days * 24 * 3600) / 3600)}hr"
    if seconds > 2 * 3600:
        hours = int(seconds / 3600)
        return f"{hours}hr {int((seconds - hours * 3600) / 60)}m"
    if seconds > 10 * 60:
        minutes = int(seconds / 60)
        return f"{minutes}m {int(seconds - minutes * 60)}s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.2f} us"


@register.filter
def unix_time(value) -> str:
    """Format a unix time as local ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return ""
    moment = datetime.datetime.fromtimestamp(float(value))
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


@register.filter
def python_repr(value) -> str:
    """Return ``repr(value)``, as Dask's pages show tuples and sets."""
    return repr(value)
