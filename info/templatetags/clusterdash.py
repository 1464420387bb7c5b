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
from django.utils.formats import localize
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

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
    """Return the text that shows ``key`` on pages, control characters escaped."""
    return keys.visible_text(keys.key_to_text(key))


@register.filter
def visible(text) -> str:
    """Return ``text`` with its control characters written as escapes."""
    return keys.visible_text(str(text))


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


#: One row of the worker table. ``format_html`` escapes every value put in.
WORKER_ROW = """<tr{stale}>
  <td><a href="{worker_url}">{address}</a></td>
  <td>{name}</td>
  <td class="number">{nthreads}</td>
  <td class="number" data-sort="{memory_limit}">{memory_limit_text}</td>
  <td><progress value="{memory}" max="{memory_limit}"></progress></td>
  <td class="number" data-sort="{occupancy}">{occupancy_text}</td>
  <td class="number">{processing}</td>
  <td class="number">{in_memory}</td>
  <td>{services}</td>
  <td><a href="{logs_url}">logs</a></td>
  <td class="number" data-sort="{age}">{age_text}</td>
</tr>
"""

_STALE_CLASS = mark_safe(' class="stale"')


@register.simple_tag
def worker_table(rows, columns, request=None, sortable=False, next_order=""):
    """Render the worker table of ``rows``; see ``render_worker_table``."""
    return render_worker_table(
        rows, columns, request=request if sortable else None, next_order=next_order
    )


def render_worker_table(
    rows, columns, *, request=None, next_order: str = ""
) -> SafeString:
    """
    Render the worker table of ``rows`` under the headers of ``columns``.

    ``rows`` are as ``info.views.main.worker_rows`` returns them, and
    ``columns`` are ``(label, sort name)`` pairs. With ``request``, each
    header that has a sort name links to the current query sorted by that
    column in ``next_order``. The rows are built with ``format_html`` rather
    than a template loop, and each link route is reversed once per table,
    which takes much less CPU time for a few hundred rows.
    """
    header = []
    for label, sort_name in columns:
        if request is not None and sort_name:
            href = page_url(request, sort=sort_name, order=next_order, page="")
            cell = format_html(
                '  <th scope="col"><a href="{}">{}</a></th>', href, label
            )
        else:
            cell = format_html('  <th scope="col">{}</th>', label)
        header.append(cell)
    script_prefix, urlconf = get_script_prefix(), get_urlconf()
    worker_route = _around_segment("info:worker", script_prefix, urlconf)
    logs_route = _around_segment("info:worker-logs", script_prefix, urlconf)
    body = [
        _worker_row(row, worker_route, logs_route, script_prefix, urlconf)
        for row in rows
    ]
    # Every part joined here is a SafeString that format_html returned.
    return mark_safe(
        '<div class="table-scroll">\n<table class="data workers">\n'
        "<thead>\n<tr>\n" + "\n".join(header) + "\n</tr>\n</thead>\n"
        "<tbody>\n" + "".join(body) + "</tbody>\n</table>\n</div>\n"
    )


def _worker_row(row, worker_route, logs_route, script_prefix, urlconf) -> SafeString:
    worker = row["worker"]
    segment = address_segment(worker.address)
    # Dask links its worker's own Bokeh server through /proxy, which gives a
    # 404 page where the worker runs no Bokeh and a 403 to viewers. The site's
    # worker pages work for every worker and every viewer.
    worker_pages = _around_segment("workers:index", script_prefix, urlconf)
    services = format_html(
        '<a href="{}">dashboard</a>', worker_pages[0] + segment + worker_pages[1]
    )
    return format_html(
        WORKER_ROW,
        stale=_STALE_CLASS if row["stale"] else "",
        worker_url=worker_route[0] + segment + worker_route[1],
        address=escape(worker.address),
        name=_cell_text("" if worker.name is None else worker.name),
        nthreads=_cell_text(worker.nthreads),
        memory_limit=_cell_text(worker.memory_limit),
        memory_limit_text=format_bytes(worker.memory_limit),
        memory=_cell_text(worker.memory),
        occupancy=_cell_text(worker.occupancy),
        occupancy_text=format_time(worker.occupancy),
        processing=_cell_text(worker.processing),
        in_memory=_cell_text(worker.in_memory),
        services=services,
        logs_url=logs_route[0] + segment + logs_route[1],
        age=_cell_text(row["age"]),
        age_text=format_time(row["age"]),
    )


def _cell_text(value) -> SafeString:
    """Return ``value`` localized as a template prints it, always escaped."""
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        # Django 5.2's numberformat.format() returns such an int unchanged
        # too, so it prints as str(value), and digits need no escaping.
        return SafeString(str(value))
    # escape(), unlike the conditional_escape() of templates and format_html,
    # also escapes text that is already marked safe.
    return escape(localize(value))


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
