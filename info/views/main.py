"""The scheduler-wide pages: workers, exceptions and the scheduler's log."""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable

from django.conf import settings
from django.core.paginator import Paginator
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from clusterdash.access import operator_page, viewer_page
from clusterdash.backends import get_backend
from clusterdash.backends.types import ErredTask, Snapshot, WorkerSummary

from ..lookups import get_snapshot
from ..templatetags.clusterdash import render_worker_table
from .common import query_int, relative_redirect, render_page

#: Seconds without a heartbeat after which a worker row is highlighted.
STALE_AFTER = 60.0

#: Sortable columns of the workers table and the value each sorts by.
WORKER_SORT_KEYS = {
    "address": lambda w: w.address,
    "name": lambda w: str(w.name),
    "cores": lambda w: w.nthreads,
    "memory": lambda w: w.memory_limit,
    "memory_use": lambda w: w.memory,
    "occupancy": lambda w: w.occupancy,
    "processing": lambda w: w.processing,
    "in_memory": lambda w: w.in_memory,
    "last_seen": lambda w: -w.last_seen,
}

WORKER_COLUMNS = (
    ("Worker", "address"),
    ("Name", "name"),
    ("Cores", "cores"),
    ("Memory", "memory"),
    ("Memory use", "memory_use"),
    ("Occupancy", "occupancy"),
    ("Processing", "processing"),
    ("In-memory", "in_memory"),
    ("Services", None),
    ("Logs", None),
    ("Last seen", "last_seen"),
)


@require_safe
@viewer_page
def info_redirect(request):
    """Redirect ``/info`` and ``/info/`` to the workers page."""
    return relative_redirect(request, reverse("info:workers"))


def worker_rows(workers, now: float) -> list[dict]:
    """Return the worker-table rows: each worker with its heartbeat age."""
    rows = []
    for worker in workers:
        age = max(now - worker.last_seen, 0.0)
        rows.append({"worker": worker, "age": age, "stale": age > STALE_AFTER})
    return rows


def _select_workers(snapshot: Snapshot, search: str, sort: str, descending: bool):
    workers: list[WorkerSummary] = list(snapshot.workers)
    if search:
        needle = search.lower()
        workers = [
            w
            for w in workers
            if needle in w.address.lower() or needle in str(w.name).lower()
        ]
    if sort in WORKER_SORT_KEYS:
        workers.sort(key=WORKER_SORT_KEYS[sort], reverse=descending)
    return workers


class SnapshotFragments:
    """
    Rendered HTML fragments of one snapshot, by key, at most ``maxsize``.

    The cache keeps a reference to the snapshot and compares it with ``is``,
    so a new snapshot is never mistaken for an old one whose ``id()`` it
    reuses. A request with another snapshot drops every stored fragment.
    A request that still has an older snapshot therefore costs renders,
    but never gets a fragment of the wrong snapshot.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        # Async views run on one event loop under ASGI, but in a thread per
        # request under WSGI.
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._fragments: OrderedDict[Hashable, SafeString] = OrderedDict()

    def get(
        self, snapshot: Snapshot, key: Hashable, render: Callable[[], SafeString]
    ) -> SafeString:
        """Return the fragment of ``key`` for ``snapshot``, rendering it on a miss."""
        with self._lock:
            if snapshot is not self._snapshot:
                self._snapshot = snapshot
                self._fragments.clear()
            fragment = self._fragments.get(key)
            if fragment is not None:
                self._fragments.move_to_end(key)
                return fragment
            # Rendering under the lock, with no await in between, means that
            # concurrent requests for one new table render it once.
            fragment = render()
            self._fragments[key] = fragment
            if len(self._fragments) > self.maxsize:
                self._fragments.popitem(last=False)
            return fragment

    def clear(self) -> None:
        """Drop the snapshot and every fragment."""
        with self._lock:
            self._snapshot = None
            self._fragments.clear()


#: Worker tables of the workers page, which every viewer may share because
#: the table contains no per-user or per-role content.
worker_tables = SnapshotFragments(maxsize=8)


@receiver(setting_changed)
def _forget_worker_tables(**kwargs) -> None:
    worker_tables.clear()


def _worker_table_key(request) -> tuple:
    """Return what the workers page's table depends on besides the snapshot."""
    # The header links keep every query parameter, not only q, sort, order
    # and page. Links carry the script prefix and the urlconf's routes, and
    # numbers are localized in the active language.
    return (
        request.GET.urlencode(),
        get_script_prefix(),
        get_urlconf(),
        get_language(),
        settings.CLUSTERDASH_PAGE_SIZE,
    )


@require_safe
@viewer_page
async def workers(request):
    """List the scheduler's workers, a page at a time, sorted and searchable."""
    snapshot = await get_snapshot()
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "name")
    descending = request.GET.get("order") == "desc"

    selected = _select_workers(snapshot, search, sort, descending)
    paginator = Paginator(selected, settings.CLUSTERDASH_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))

    def render_table() -> SafeString:
        # Ages are measured at the time the snapshot was taken, not at the
        # request, so one table serves every request until the next poll.
        # They are older than the request by up to one poll interval.
        rows = worker_rows(page.object_list, snapshot.taken_at)
        return render_worker_table(
            rows,
            WORKER_COLUMNS,
            request=request,
            next_order="asc" if descending else "desc",
        )

    table = worker_tables.get(snapshot, _worker_table_key(request), render_table)
    context = {
        "title": "Workers",
        "scheduler_address": snapshot.scheduler.address,
        "worker_table": table,
        "page": page,
        "search": search,
        "sort": sort,
        "order": "desc" if descending else "asc",
        "total_workers": len(snapshot.workers),
    }
    return await render_page(request, "info/workers.html", context)


_HEX_WORD = re.compile(r"^[0-9a-f]{8}$")


def task_prefix(key) -> str:
    """Return the task prefix of ``key`` the way Dask's ``key_split`` does."""
    if isinstance(key, tuple):
        return task_prefix(key[0]) if key else ""
    if not isinstance(key, str):
        return str(key)
    text = key.lstrip("('\"")
    words = text.split("-")
    prefix = words[0].strip("'\",) ")
    for word in words[1:]:
        if word.isalpha() and not _HEX_WORD.match(word):
            prefix += "-" + word
        else:
            break
    return prefix


def exception_groups(erred: list[ErredTask], snapshot: Snapshot) -> list[dict]:
    """Group retained failures by task prefix and exception type, with counts."""
    counts = Counter((task_prefix(e.key), e.exception_type) for e in erred)
    erred_by_prefix = {p.name: p.states.get("erred", 0) for p in snapshot.prefixes}
    groups = [
        {
            "prefix": prefix,
            "exception_type": exception_type,
            "retained": count,
            "erred_in_prefix": erred_by_prefix.get(prefix),
        }
        for (prefix, exception_type), count in counts.items()
    ]
    groups.sort(key=lambda g: (-g["retained"], g["prefix"], g["exception_type"]))
    # The scheduler keeps details of its most recent failures only, so a
    # prefix whose failures are all older gets a row without a type.
    grouped = {prefix for prefix, _ in counts}
    for prefix in sorted(set(erred_by_prefix) - grouped):
        if erred_by_prefix[prefix]:
            groups.append(
                {
                    "prefix": prefix,
                    "exception_type": "",
                    "retained": 0,
                    "erred_in_prefix": erred_by_prefix[prefix],
                }
            )
    return groups


@require_safe
@viewer_page
async def exceptions(request):
    """Show failures grouped by prefix and type, then the recent ones."""
    snapshot = await get_snapshot()
    erred = await get_backend().aerred_tasks()

    paginator = Paginator(erred, settings.CLUSTERDASH_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    erred_prefixes = [p for p in snapshot.prefixes if p.states.get("erred")]

    context = {
        "title": "Exceptions",
        "groups": exception_groups(erred, snapshot),
        "erred_prefixes": erred_prefixes,
        "erred_total": snapshot.counts.get("erred", 0),
        "page": page,
    }
    return await render_page(request, "info/exceptions.html", context)


@require_safe
@operator_page
async def scheduler_logs(request):
    """Show the scheduler's log, newest first, capped in size."""
    offset = query_int(request, "offset")
    log_page = await get_backend().ascheduler_logs(
        offset, settings.CLUSTERDASH_LOG_PAGE_BYTES
    )

    context = {
        "title": "Logs",
        "heading": "Scheduler logs",
        **log_context(log_page),
    }
    return await render_page(request, "info/logs.html", context)


def log_context(log_page) -> dict:
    """Return the template values of one page of log records."""
    shown_end = log_page.offset + len(log_page.records)
    newer_offset = None
    if log_page.offset > 0:
        newer_offset = max(log_page.offset - max(len(log_page.records), 1), 0)
    return {
        "log_page": log_page,
        "first_number": log_page.offset + 1,
        "last_number": shown_end,
        "older_offset": shown_end if log_page.remaining else None,
        "newer_offset": newer_offset,
        "log_page_bytes": settings.CLUSTERDASH_LOG_PAGE_BYTES,
    }
