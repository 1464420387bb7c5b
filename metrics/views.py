"""
The Prometheus endpoints.

``/metrics`` serves the process-wide registry: prometheus_client's process
and Python families, django-prometheus's request families and Dask's
scheduler families with ``dask_scheduler_up``. ``/metrics/workers`` serves
Dask's worker families for every worker, labelled ``worker``. Both require
``Authorization: Bearer <token>`` when ``CLUSTERDASH_METRICS_TOKEN`` is set.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from .collector import WORKER_REGISTRY, register_collectors

#: Dask's own endpoint sends text format 0.0.4; Prometheus servers of every
#: version parse it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _authorized(request: HttpRequest) -> bool:
    token = settings.CLUSTERDASH_METRICS_TOKEN
    if not token:
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def _exposition(request: HttpRequest, registry: CollectorRegistry) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse(
            "A valid bearer token is required to read metrics.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    register_collectors()
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Serve the scheduler families and this process's own families."""
    return _exposition(request, REGISTRY)


@require_GET
def worker_metrics(request: HttpRequest) -> HttpResponse:
    """Serve Dask's worker families for all workers."""
    return _exposition(request, WORKER_REGISTRY)
