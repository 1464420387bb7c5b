"""
Views of the live pages, the individual plots and their index.

The views create the Bokeh session and render it into the site's own
templates, so pages get Django's middleware, login state and navigation.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods, require_safe

from clusterdash.access import (
    OPERATOR,
    denial_message,
    request_has_role,
    viewer_api,
    viewer_page,
)
from clusterdash.backends import get_backend
from clusterdash.backends.exceptions import SchedulerUnavailable
from clusterdash.framing import frame_ancestors_policy

from . import bokeh_server
from .catalog import ALIASES, INDIVIDUAL, PAGES, display_name, individual_app_name
from .panels import format_bytes


def _bokeh_context(app_name: str, socket_path: str) -> dict[str, object]:
    app = bokeh_server.registered_apps().get(app_name)
    if app is None:
        raise Http404(f"No plot named {app_name!r}.")
    context = bokeh_server.embed_session(app, socket_path)
    # Bokeh generates these scripts from the session token and element id,
    # which contain no cluster data.
    context["bokeh_script"] = mark_safe(context["bokeh_script"])
    context["bokeh_js_raw"] = [mark_safe(code) for code in context["bokeh_js_raw"]]
    context["title"] = app.title
    return context


def page_view(name: str):
    """Return the async view that serves the navigation page ``name``."""

    async def view(request: HttpRequest) -> HttpResponse:
        context = _bokeh_context(name, reverse(f"plots:{name}"))
        context["page_name"] = name
        # Rendering may read the session and user from the database.
        return await sync_to_async(render)(request, "plots/page.html", context)

    view.__name__ = f"{name.replace('-', '_')}_page"
    return require_safe(viewer_page(view))


@xframe_options_exempt
@require_safe
@viewer_page
async def individual(request: HttpRequest, name: str) -> HttpResponse:
    """Serve one plot alone, for iframes such as JupyterLab's dask panes."""
    name = ALIASES.get(name, name)
    if name not in INDIVIDUAL:
        raise Http404(f"No individual plot named {name!r}.")
    # An alias opens the session of the plot it names, so its websocket
    # goes to that plot's path.
    socket_path = reverse("plots:individual", args=[name])
    context = _bokeh_context(individual_app_name(name), socket_path)
    response = await sync_to_async(render)(request, "plots/individual.html", context)
    response["Content-Security-Policy"] = frame_ancestors_policy()
    return response


@require_safe
@viewer_api
def individual_plots(request: HttpRequest) -> JsonResponse:
    """
    List the individual plots as Dask does: display name -> path.

    At the site root the paths are Dask's own (``/individual-graph``).
    Under a URL prefix they are relative to the prefix (``individual-graph``),
    because JupyterLab's Dask extension appends each value to the dashboard
    URL it was given and a path that repeated the prefix would double it. A
    relative path also resolves under the prefix in a browser.
    """
    paths = {
        display_name(name): reverse("plots:individual", args=[name])
        for name in INDIVIDUAL
    }
    paths["Individual Cluster Map"] = static("individual-cluster-map.html")
    prefix = get_script_prefix()
    if prefix != "/":
        paths = {name: path.removeprefix(prefix) for name, path in paths.items()}
    response = JsonResponse(paths)
    # JupyterLab's Dask extension reads this list from its own origin, the
    # same origins that may frame the plots.
    origin = request.headers.get("Origin")
    response["Vary"] = "Origin"
    if origin and origin in getattr(settings, "CLUSTERDASH_ALLOWED_ORIGINS", []):
        response["Access-Control-Allow-Origin"] = origin
    return response


@require_safe
@viewer_page
def index(request: HttpRequest) -> HttpResponse:
    """List every live page and individual plot."""
    pages = [(title, reverse(f"plots:{name}")) for name, (title, _) in PAGES.items()]
    pages.append(("Hardware", reverse("plots:hardware")))
    plots = [
        (display_name(name), reverse("plots:individual", args=[name]))
        for name in INDIVIDUAL
    ]
    context = {
        "pages": pages,
        "plots": plots,
        "cluster_map": static("individual-cluster-map.html"),
        "title": "Plots",
    }
    return render(request, "plots/index.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@viewer_page
async def hardware(request: HttpRequest) -> HttpResponse:
    """
    Show the hardware benchmark form, and run the benchmark on POST only.

    The benchmark moves up to 100 MiB per worker through memory, disk and
    network, so opening the page never starts it, and starting it needs
    the operator role.
    """
    context: dict[str, object] = {
        "title": "Cluster Hardware Bandwidth",
        "may_run": await request_has_role(request, OPERATOR),
    }
    if request.method == "POST":
        if not context["may_run"]:
            raise PermissionDenied(denial_message(OPERATOR))
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
