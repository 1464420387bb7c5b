"""Site-wide views: the root redirect, the health probes and the sitemap."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.templatetags.static import static
from django.urls import (
    URLPattern,
    URLResolver,
    get_resolver,
    get_script_prefix,
    reverse,
)
from django.urls.resolvers import RegexPattern
from django.views.decorators.http import require_http_methods, require_safe

from info.views.common import relative_redirect

from .access import viewer_api, viewer_page
from .backends import SchedulerUnavailable, get_backend

logger = logging.getLogger(__name__)

#: File endings of the site's static folder that the sitemap leaves out.
SITEMAP_SKIPPED_SUFFIXES = (".py", ".pyc")

#: Routes the sitemap leaves out: the icon is for browsers, not a page, and
#: the sitemap lists the icon file in the static folder already.
SITEMAP_SKIPPED_ROUTES = frozenset({"favicon.ico"})


@require_safe
@viewer_page
def root(request):
    """Redirect the site root to the status page in one hop."""
    return relative_redirect(request, reverse("plots:status"))


@require_http_methods(["GET", "HEAD"])
def health(request):
    """
    Return ``ok`` to the liveness probe.

    The view reads neither the session nor the backend, so it sets no
    cookie and responds while the scheduler is down.
    """
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


#: The site icon, which browsers request at ``/favicon.ico`` on pages that do
#: not link it, such as JSON responses and Django's admin.
FAVICON = settings.BASE_DIR / "static" / "clusterdash" / "favicon.svg"


@require_http_methods(["GET", "HEAD"])
def favicon(request):
    """Serve the site icon, open to anonymous users like the static files."""
    response = HttpResponse(FAVICON.read_bytes(), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_http_methods(["GET", "HEAD"])
async def ready(request):
    """
    Return ``ok`` while the scheduler responds, and 503 with the reason if not.

    The check is one fresh call to the scheduler, cut off after the
    backend's ``timeout``. Like ``health`` it reads no session, so it sets
    no cookie, and it logs nothing per probe.
    """
    backend = get_backend()
    try:
        await asyncio.wait_for(backend.acheck_scheduler(), backend.timeout)
    except SchedulerUnavailable as exc:
        return _not_ready(f"The scheduler is unavailable ({exc.address}): {exc.reason}")
    except TimeoutError:
        return _not_ready(
            f"The scheduler did not answer within {backend.timeout:g} s "
            f"({backend.address})."
        )
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


def _not_ready(reason: str) -> HttpResponse:
    return HttpResponse(
        reason + "\n", status=503, content_type="text/plain; charset=utf-8"
    )


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_CONVERTER = re.compile(r"<(?:\w+:)?\w+>")


def _route_text(pattern) -> str:
    """Return one URL pattern as text in Dask's style: regex groups kept raw."""
    text = str(pattern.pattern)
    if isinstance(pattern.pattern, RegexPattern):
        text = text.removeprefix("^").removesuffix("$").removesuffix("\\Z")
        text = _NAMED_GROUP.sub("(", text)
        text = text.replace("\\.", ".")
        # Dask lists "/status" for a page served with and without a slash.
        text = text.removesuffix("/?")
    else:
        text = _CONVERTER.sub("(.*)", text)
    return text


def _walk_routes(patterns, prefix: str = ""):
    for entry in patterns:
        text = prefix + _route_text(entry)
        if isinstance(entry, URLResolver):
            yield from _walk_routes(entry.url_patterns, text)
        elif isinstance(entry, URLPattern):
            yield text


def _static_paths(prefix: str) -> list[str]:
    root = Path(settings.BASE_DIR) / "static"
    if not root.is_dir():
        return []
    # static() applies STATIC_URL and the script prefix; the part after the
    # script prefix is the static route, which goes after the given prefix.
    script_prefix = get_script_prefix()
    base = static("")
    if base.startswith(script_prefix):
        base = prefix + base.removeprefix(script_prefix)
    paths = []
    for file in sorted(root.rglob("*")):
        if not file.is_file() or file.suffix in SITEMAP_SKIPPED_SUFFIXES:
            continue
        if "__pycache__" in file.parts:
            continue
        paths.append(base + file.relative_to(root).as_posix())
    return paths


def site_paths(prefix: str = "/") -> list[str]:
    """Return every route of the site and every file in its static folder."""
    paths = {
        prefix + route
        for route in _walk_routes(get_resolver().url_patterns)
        if route not in SITEMAP_SKIPPED_ROUTES
    }
    paths.update(_static_paths(prefix))
    return sorted(paths)


@require_safe
@viewer_api
def sitemap(request):
    """List every path the site serves, as Dask's ``/sitemap.json`` does."""
    # The request's own script name, so the paths carry the site's prefix.
    prefix = request.path.removesuffix(request.path_info) + "/"
    try:
        paths = site_paths(prefix)
    except Exception:
        # The sitemap must stay valid JSON even if a URL module misbehaves.
        logger.exception("Listing the site's routes for /sitemap.json failed")
        paths = []
    text = json.dumps({"paths": paths}).replace("</", "<\\/")
    return HttpResponse(text, content_type="application/json")
