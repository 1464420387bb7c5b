"""
Filters and tags that put cluster data into pages and links.

Task keys and worker addresses reach URLs only through these helpers: a key
becomes ``keys.key_to_link_segment`` and an address ``quote(addr, safe="")``,
and ``segment_url`` reverses a URL name around that pre-quoted segment.
"""

from __future__ import annotations

import datetime
import math
from urllib.parse import quote

from django import template
from django.conf import settings
from django.urls import NoReverseMatch, reverse

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


@register.simple_tag
def segment_url(name: str, segment: str) -> str:
    """
    Reverse URL ``name`` with a segment that is already percent-encoded.

    ``reverse`` quotes its arguments again, turning each ``%`` into ``%25``.
    The segment holds only unreserved characters and ``%XX`` escapes, so
    undoing that one replacement restores it exactly.
    """
    url = reverse(name, args=[segment])
    quoted = segment.replace("%", "%25")
    head, found, tail = url.rpartition(quoted)
    if not found:
        return url
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
    try:
        return reverse(
            "proxy", kwargs={"port": port, "host": worker.host, "path": "status"}
        )
    except NoReverseMatch:
        return ""


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
