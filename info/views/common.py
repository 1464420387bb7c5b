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
    Redirect to the reversed path ``target`` with a relative Location.

    A relative Location keeps working when a proxy serves the site under a
    prefix it does not tell Django about. Both paths are compared without
    the script prefix, so the result is the same whether or not it is set.
    """
    prefix = get_script_prefix()
    if target.startswith(prefix):
        target = "/" + target.removeprefix(prefix)
    current = request.path_info
    # TODO: a request for the bare prefix without its trailing slash reaches
    # Django as the prefix plus "/", so the Location is one level off there.
    base = current if current.endswith("/") else posixpath.dirname(current)
    location = posixpath.relpath(target, base or "/")
    if target.endswith("/") and not location.endswith("/"):
        location += "/"
    response = HttpResponseRedirect(location)
    response.status_code = status
    return response
