"""
Views of each worker's pages, drawn from data the backend fetches.

Every view first looks the address up in the shared snapshot, so an
unknown address gets 404 without a call to anyone. A worker that leaves
between that lookup and the fetch also gets 404, one that does not reply
within the backend's ``worker_timeout`` gets 504, and an unreachable
scheduler gets 503.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from urllib.parse import unquote, unquote_plus

from asgiref.sync import sync_to_async
from bokeh.embed import json_item
from bokeh.palettes import Category20
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from clusterdash.access import viewer_api, viewer_page, viewer_text
from clusterdash.backends import (
    BackendError,
    SchedulerUnavailable,
    WorkerNotFound,
    WorkerUnresponsive,
    get_backend,
)
from clusterdash.backends.types import WorkerSummary
from info.templatetags.clusterdash import address_segment, segment_url

from . import figures
from .history import history_of
from .prometheus import render_worker_metrics

logger = logging.getLogger(__name__)

#: Pages linked from each worker's index, in navigation order.
INDEX_PAGES = (
    ("status", "Status"),
    ("counters", "Counters"),
    ("crossfilter", "Crossfilter"),
    ("system", "System"),
    ("profile", "Profile"),
    ("profile-server", "Profile-Server"),
    ("health", "Health"),
    ("metrics", "Metrics"),
    ("sitemap", "Sitemap"),
)

#: Milliseconds between two polls of a page's data.
POLL_INTERVAL_MS = 1000


class _WorkerError(Exception):
    """A failed lookup or fetch, with its HTTP status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def color_of(name: str) -> str:
    """Return a stable colour for a task prefix or file name."""
    digest = hashlib.md5(name.encode("utf-8"), usedforsecurity=False).digest()
    return Category20[20][digest[0] % 20]


def _address_candidates(text: str) -> list[str]:
    # Raw, once-encoded and twice-encoded forms, and the "+" for space
    # that Tornado's url_escape writes.
    candidates = [text, unquote(text), unquote(unquote(text)), unquote_plus(text)]
    return list(dict.fromkeys(candidates))


async def _find_worker(text: str) -> WorkerSummary:
    backend = get_backend()
    try:
        snapshot = await backend.asnapshot()
    except SchedulerUnavailable as exc:
        raise _WorkerError(503, str(exc)) from None
    for candidate in _address_candidates(text):
        worker = snapshot.worker(candidate)
        if worker is not None:
            return worker
    raise _WorkerError(404, f"No worker with address {text!r}")


async def _call(worker: WorkerSummary, name: str, *args):
    backend = get_backend()
    try:
        return await backend.acall_worker(worker.address, name, *args)
    except WorkerNotFound:
        raise _WorkerError(404, f"Worker {worker.address} left the cluster") from None
    except WorkerUnresponsive as exc:
        raise _WorkerError(504, str(exc)) from None
    except SchedulerUnavailable as exc:
        raise _WorkerError(503, str(exc)) from None
    except BackendError as exc:
        logger.warning("Call %s on worker %s failed: %s", name, worker.address, exc)
        raise _WorkerError(502, str(exc)) from None


async def _error_page(request: HttpRequest, error: _WorkerError) -> HttpResponse:
    return await sync_to_async(render)(
        request,
        "workers/error.html",
        {"title": "Worker unavailable", "message": error.message},
        status=error.status,
    )


def _html_view(view):
    @functools.wraps(view)
    async def wrapper(request, address, **kwargs):
        try:
            return await view(request, address, **kwargs)
        except _WorkerError as error:
            return await _error_page(request, error)

    return viewer_page(wrapper)


def _json_view(view):
    @functools.wraps(view)
    async def wrapper(request, address, **kwargs):
        try:
            return await view(request, address, **kwargs)
        except _WorkerError as error:
            return JsonResponse({"error": error.message}, status=error.status)

    return viewer_api(wrapper)


def _text_view(view):
    @functools.wraps(view)
    async def wrapper(request, address, **kwargs):
        try:
            return await view(request, address, **kwargs)
        except _WorkerError as error:
            return HttpResponse(
                error.message + "\n",
                status=error.status,
                content_type="text/plain; charset=utf-8",
            )

    return viewer_text(wrapper)


def _worker_url(name: str, address: str) -> str:
    # The address is percent-encoded once, so the path has no "//" that a
    # proxy normalising the URL would merge.
    return segment_url(f"workers:{name}", address_segment(address))


def _links(address: str) -> list[tuple[str, str]]:
    return [(label, _worker_url(name, address)) for name, label in INDEX_PAGES]


async def _render(request, template, context, status=200):
    return await sync_to_async(render)(request, template, context, status=status)


@_html_view
async def index(request: HttpRequest, address: str) -> HttpResponse:
    """List the pages of one worker."""
    worker = await _find_worker(address)
    context = {
        "title": f"Worker {worker.address}",
        "worker": worker,
        "links": _links(worker.address),
    }
    return await _render(request, "workers/index.html", context)


@_html_view
async def plot_page(request: HttpRequest, address: str, page: str) -> HttpResponse:
    """Render one plot page; its script polls the ``.json`` twin."""
    worker = await _find_worker(address)
    data_url = _worker_url(f"{page}-data", worker.address)
    key = request.GET.get("key", "")
    if key and page == "profile":
        data_url += "?" + _query({"key": key})
    context = {
        "title": f"{figures.PLOT_PAGES[page]}: {worker.address}",
        "worker": worker,
        "page": page,
        "links": _links(worker.address),
        "plot_item": json_item(figures.build_layout(page), target="worker-plot"),
        "data_url": data_url,
        "poll_interval": POLL_INTERVAL_MS,
    }
    return await _render(request, "workers/plot.html", context)


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


@_json_view
async def plot_data(request: HttpRequest, address: str, page: str) -> JsonResponse:
    """Return ``{source name: columns}`` for one plot page."""
    worker = await _find_worker(address)
    history = history_of(worker.address)
    if page == "status":
        sample = await _call(worker, "status")
        sources = figures.status_columns(sample, history.add_status(sample))
    elif page == "crossfilter":
        records = history.add_tasks(await _call(worker, "task_records"))
        sources = figures.crossfilter_columns(records, color_of)
    elif page == "system":
        answer = await _call(worker, "system_samples", history.system_count)
        sources = figures.system_columns(history.add_system(answer))
    else:
        key = request.GET.get("key") or None
        answer = await _call(worker, "profile", key, page == "profile-server")
        sources = figures.profile_columns(answer, color_of)
    return JsonResponse({"sources": sources})


@_html_view
async def counters(request: HttpRequest, address: str) -> HttpResponse:
    """Render the worker's counters, refreshed by polling."""
    worker = await _find_worker(address)
    values = await _call(worker, "counters")
    context = {
        "title": f"Worker counters: {worker.address}",
        "worker": worker,
        "links": _links(worker.address),
        "counters": _counter_rows(values),
        "data_url": _worker_url("counters-data", worker.address),
        "poll_interval": POLL_INTERVAL_MS,
    }
    return await _render(request, "workers/counters.html", context)


def _counter_rows(values: dict[str, dict[str, int]]) -> list[tuple[str, list]]:
    return [
        (name, sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        for name, counts in sorted(values.items())
    ]


@_json_view
async def counters_data(request: HttpRequest, address: str) -> JsonResponse:
    """Return the worker's counters as ``{name: {value: count}}``."""
    worker = await _find_worker(address)
    return JsonResponse({"counters": await _call(worker, "counters")})


@_text_view
async def health(request: HttpRequest, address: str) -> HttpResponse:
    """Return ``ok`` when the worker replies in time, as Dask's worker does."""
    worker = await _find_worker(address)
    await _call(worker, "health")
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


@_text_view
async def metrics(request: HttpRequest, address: str) -> HttpResponse:
    """Serve the worker's ``dask_worker_*`` families in the text format."""
    worker = await _find_worker(address)
    numbers = await _call(worker, "prometheus_numbers")
    body, content_type = render_worker_metrics(numbers)
    return HttpResponse(body, content_type=content_type)


@_json_view
async def sitemap(request: HttpRequest, address: str) -> JsonResponse:
    """List the paths this site serves for the worker."""
    worker = await _find_worker(address)
    paths = [url for _, url in _links(worker.address)]
    paths.append(_worker_url("index", worker.address))
    return JsonResponse({"paths": sorted(paths)})
