"""
Render backend failures as styled error pages, once for every view.

Views let ``SchedulerUnavailable``, ``WorkerNotFound``, ``TaskNotFound`` and
``WorkerUnresponsive`` propagate. This middleware turns them into 503, 404
and 504 pages that name the scheduler, worker or key, so none of them
becomes a 500.
"""

from __future__ import annotations

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
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
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        # Pass requests through in the mode the chain runs in, so async
        # views are not pushed into a thread because of this middleware.
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self.get_response):
            return self._acall(request)
        return self.get_response(request)

    async def _acall(self, request):
        return await self.get_response(request)

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
