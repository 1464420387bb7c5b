"""Dask's ``/json`` endpoints: cluster counts and the scheduler's identity."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from clusterdash.access import viewer_api, viewer_page

from ..lookups import get_snapshot


def json_response(data) -> HttpResponse:
    """
    Return ``data`` as JSON encoded the way Dask's server encodes it.

    That is ``json.dumps`` with its default separators and every ``</``
    written as ``<\\/``, so the text is safe inside an HTML script element.
    Values JSON cannot encode become their ``str``.
    """
    text = json.dumps(data, default=str).replace("</", "<\\/")
    return HttpResponse(text, content_type="application/json")


@require_safe
@viewer_api
async def counts(request):
    """Return the cluster-wide counts, in Dask's field order."""
    snapshot = await get_snapshot()
    return json_response(snapshot.counts)


@require_safe
@viewer_api
async def identity(request):
    """Return the scheduler's identity document."""
    snapshot = await get_snapshot()
    return json_response(snapshot.identity)


@require_safe
@viewer_page
def json_index(request):
    """List the JSON endpoints."""
    return render(request, "info/json_index.html", {"title": "JSON endpoints"})
