"""Helpers shared by the info views: rendering, paging and redirects."""

from __future__ import annotations

import posixpath

from asgiref.sync import sync_to_async
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import get_script_prefix


async def render_page(request, template: str, context: dict, status: int = 200):
    """Render a template from an async view."""
    # Rendering may read the session and the user from the database.
    return await sync_to_async(render)(request, template, context, status=status)


def query_int(request, name: str, default: int = 0, minimum: int = 0) -> int:
    """Return the integer query parameter ``name``, or ``default`` if invalid."""
    try:
        value = int(request.GET.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(value, minimum)


def relative_redirect(request, target: str, status: int = 302):
    """
    Redirect to the reversed path ``target`` in one hop.

    With a known script prefix (``FORCE_SCRIPT_NAME`` or daphne's
    ``--root-path``), ``target`` already carries it and the Location is that
    absolute path. Without one, the Location is relative, which keeps working
    when a proxy serves the site under a prefix it does not tell Django about.
    """
    prefix = get_script_prefix()
    if prefix != "/":
        location = target
    else:
        current = request.path_info
        # NOTE: without a configured prefix, a request for the bare prefix
        # without its trailing slash reaches Django as "/", so the relative
        # Location is one level off there.
        base = current if current.endswith("/") else posixpath.dirname(current)
        location = posixpath.relpath(target, base or "/")
        if target.endswith("/") and not location.endswith("/"):
            location += "/"
    response = HttpResponseRedirect(location)
    response.status_code = status
    return response
