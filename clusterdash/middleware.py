"""
Render backend failures as styled error pages, once for every view.

Views let ``SchedulerUnavailable``, ``WorkerNotFound``, ``TaskNotFound`` and
``WorkerUnresponsive`` propagate. This middleware turns them into 503, 404
and 504 pages that name the scheduler, worker or key, so none of them
becomes a 500.

It is also the innermost middleware, and it runs synchronously on purpose.
Under ASGI, Django runs each hook of a ``MiddlewareMixin`` middleware that
sits inside the last synchronous one in a thread hop of its own, a dozen
hops per request for this stack. With a synchronous middleware innermost,
the whole stack runs in one worker thread, which takes about a third off
the time of a small response. Async views still run on the event loop.
"""

from __future__ import annotations

import logging

from django.shortcuts import render

from .backends import (
    SchedulerUnavailable,
    TaskNotFound,
    WorkerNotFound,
    WorkerUnresponsive,
)

logger = logging.getLogger(__name__)


class BackendErrorMiddleware:
    """Render the error page that fits a backend exception raised by a view."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, SchedulerUnavailable):
            logger.warning(
                "Scheduler %s unavailable for %s: %s",
                exception.address,
                request.path,
                exception.reason,
            )
            context = {"address": exception.address, "reason": exception.reason}
            return render(request, "503.html", context, status=503)
        if isinstance(exception, WorkerNotFound):
            context = {"missing_kind": "worker", "missing_name": exception.address}
            return render(request, "404.html", context, status=404)
        if isinstance(exception, TaskNotFound):
            context = {"missing_kind": "task", "missing_name": exception.key_text}
            return render(request, "404.html", context, status=404)
        if isinstance(exception, WorkerUnresponsive):
            logger.warning(
                "Worker %s timed out after %g s for %s",
                exception.address,
                exception.timeout,
                request.path,
            )
            context = {"address": exception.address, "timeout": exception.timeout}
            return render(request, "504.html", context, status=504)
        return None
