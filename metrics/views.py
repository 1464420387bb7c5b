"""
The Prometheus endpoints.

``/metrics`` serves the process-wide registry: prometheus_client's process
and Python families, django-prometheus's request families and Dask's
scheduler families with ``dask_scheduler_up``. ``/metrics/workers`` serves
Dask's worker families for every worker, labelled ``worker``. Both require
``Authorization: Bearer <token>`` when ``CLUSTERDASH_METRICS_TOKEN`` is set.

Under ASGI, ``metrics.asgi.MetricsEndpoint`` serves authorized scrapes
before Django's middleware runs. These views serve the rest (rejected
tokens, other methods and hosts) and the test client.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from .exposition import (
    CONTENT_TYPE,
    SCHEDULER_EXPOSITION,
    WORKER_EXPOSITION,
    SharedExposition,
)


def token_accepted(authorization: str) -> bool:
    """Return whether an ``Authorization`` header value may read metrics."""
    token = settings.CLUSTERDASH_METRICS_TOKEN
    if not token:
        return True
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def _exposition(request: HttpRequest, exposition: SharedExposition) -> HttpResponse:
    if not token_accepted(request.headers.get("Authorization", "")):
        response = HttpResponse(
            "A valid bearer token is required to read metrics.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition.render(), content_type=CONTENT_TYPE)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Serve the scheduler families and this process's own families."""
    return _exposition(request, SCHEDULER_EXPOSITION)


@require_GET
def worker_metrics(request: HttpRequest) -> HttpResponse:
    """Serve Dask's worker families for all workers."""
    return _exposition(request, WORKER_EXPOSITION)
