"""
Views of the live pages, the individual plots and their index.

The views create the Bokeh session and render it into the site's own
templates, so pages get Django's middleware, login state and navigation.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
)
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_exempt

from clusterdash.backends import get_backend
from clusterdash.backends.exceptions import SchedulerUnavailable

from . import bokeh_server
from .catalog import ALIASES, INDIVIDUAL, PAGES, display_name, individual_app_name
from .panels import format_bytes


async def _bokeh_context(app_name: str, socket_path: str) -> dict[str, object]:
    app = bokeh_server.registered_apps().get(app_name)
    if app is None:
        raise Http404(f"No plot named {app_name!r}.")
    context = await bokeh_server.open_session(app, socket_path)
    # Bokeh generates these scripts from the session token and element id,
    # which contain no cluster data.
    context["bokeh_script"] = mark_safe(context["bokeh_script"])
    context["bokeh_js_raw"] = [mark_safe(code) for code in context["bokeh_js_raw"]]
    context["title"] = app.title
    return context


def page_view(name: str):
    """Return the async view that serves the navigation page ``name``."""

    async def view(request: HttpRequest) -> HttpResponse:
        context = await _bokeh_context(name, reverse(f"plots:{name}"))
        context["page_name"] = name
        # Rendering may read the session and user from the database.
        return await sync_to_async(render)(request, "plots/page.html", context)

    view.__name__ = f"{name.replace('-', '_')}_page"
    return view


@xframe_options_exempt
async def individual(request: HttpRequest, name: str) -> HttpResponse:
    """Serve one plot alone, for iframes such as JupyterLab's dask panes."""
    name = ALIASES.get(name, name)
    if name not in INDIVIDUAL:
        raise Http404(f"No individual plot named {name!r}.")
    # An alias opens the session of the plot it names, so its websocket
    # goes to that plot's path.
    socket_path = reverse("plots:individual", args=[name])
    context = await _bokeh_context(individual_app_name(name), socket_path)
    response = await sync_to_async(render)(request, "plots/individual.html", context)
    ancestors = " ".join(
        ["'self'", *getattr(settings, "CLUSTERDASH_FRAME_ANCESTORS", [])]
    )
    response["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
    return response


def individual_plots(request: HttpRequest) -> JsonResponse:
    """List the individual plots as Dask does: display name -> path."""
    plots = {
        display_name(name): reverse("plots:individual", args=[name])
        for name in INDIVIDUAL
    }
    plots["Individual Cluster Map"] = static("individual-cluster-map.html")
    response = JsonResponse(plots)
    # JupyterLab's Dask extension reads this list from its own origin, the
    # same origins that may frame the plots.
    origin = request.headers.get("Origin")
    response["Vary"] = "Origin"
    if origin and origin in getattr(settings, "CLUSTERDASH_FRAME_ANCESTORS", []):
        response["Access-Control-Allow-Origin"] = origin
    return response


def index(request: HttpRequest) -> HttpResponse:
    """List every live page and individual plot."""
    pages = [(title, reverse(f"plots:{name}")) for name, (title, _) in PAGES.items()]
    pages.append(("Hardware", reverse("plots:hardware")))
    plots = [
        (display_name(name), reverse("plots:individual", args=[name]))
        for name in INDIVIDUAL
    ]
    return render(
        request, "plots/index.html", {"pages": pages, "plots": plots, "title": "Plots"}
    )


async def hardware(request: HttpRequest) -> HttpResponse:
    """
    Show the hardware benchmark form, and run the benchmark on POST only.

    The benchmark moves up to 100 MiB per worker through memory, disk and
    network, so opening the page never starts it.
    """
    context: dict[str, object] = {"title": "Cluster Hardware Bandwidth"}
    if request.method == "POST":
        user = await request.auser()
        if getattr(settings, "CLUSTERDASH_STAFF_ONLY", True) and not user.is_staff:
            return HttpResponseForbidden("Running the benchmark needs a staff login.")
        try:
            result = await asyncio.to_thread(get_backend().benchmark_hardware)
        except SchedulerUnavailable as exc:
            context["error"] = (
                f"Cannot reach the scheduler at {exc.address}: {exc.reason}"
            )
        else:
            context["results"] = _benchmark_rows(result)
    return await sync_to_async(render)(request, "plots/hardware.html", context)


def _benchmark_rows(result: dict[str, dict[str, float]]) -> list[list[str]]:
    sizes = sorted(
        {size for sizes in result.values() for size in sizes}, key=_size_order
    )
    rows = []
    for size in sizes:
        row = [size]
        for kind in ("memory", "disk", "network"):
            value = result.get(kind, {}).get(size)
            row.append("" if value is None else f"{format_bytes(value)}/s")
        rows.append(row)
    return rows


def _size_order(size: str) -> float:
    units = {"kiB": 2**10, "MiB": 2**20, "GiB": 2**30}
    number, _, unit = size.partition(" ")
    try:
        return float(number) * units.get(unit, 1)
    except ValueError:
        return float("inf")
