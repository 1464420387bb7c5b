"""The pages of one worker: summary and held keys, logs and call stacks."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.paginator import Paginator
from django.views.decorators.http import require_safe

from clusterdash.access import operator_page, viewer_page
from clusterdash.backends import get_backend

from ..lookups import get_worker
from .common import query_int, render_page
from .main import WORKER_COLUMNS, log_context, worker_rows


class _HeldCount:
    """A sequence of known length, so ``Paginator`` can number the pages."""

    def __init__(self, total: int):
        self.total = total

    def __len__(self) -> int:
        return self.total

    def count(self) -> int:
        return self.total

    def __getitem__(self, item):
        return []


@require_safe
@viewer_page
async def worker(request, address: str):
    """Show one worker, a page of the keys it holds, and its processing keys."""
    summary = await get_worker(address)
    page_size = settings.CLUSTERDASH_PAGE_SIZE
    page_number = query_int(request, "page", default=1, minimum=1)

    offset = (page_number - 1) * page_size
    detail = await get_backend().aworker_detail(summary.address, offset, page_size)
    paginator = Paginator(_HeldCount(detail.held_total), page_size)
    page = paginator.get_page(page_number)
    resources = [
        {
            "name": name,
            "consumed": summary.used_resources.get(name, 0),
            "total": total,
        }
        for name, total in sorted(summary.resources.items())
    ]

    context = {
        "title": f"Worker: {summary.address}",
        "summary": summary,
        "rows": worker_rows([detail.summary], time.time()),
        "columns": WORKER_COLUMNS,
        "held": detail.held,
        "held_total": detail.held_total,
        "page": page,
        "processing": detail.processing,
        "processing_total": detail.processing_total,
        "resources": resources,
    }
    return await render_page(request, "info/worker.html", context)


@require_safe
@operator_page
async def worker_logs(request, address: str):
    """Show one worker's log, newest first, capped in size."""
    summary = await get_worker(address)
    offset = query_int(request, "offset")
    log_page = await get_backend().aworker_logs(
        summary.address, offset, settings.CLUSTERDASH_LOG_PAGE_BYTES
    )

    context = {
        "title": f"Logs: {summary.address}",
        "heading": f"Logs: {summary.address}",
        "worker_address": summary.address,
        **log_context(log_page),
    }
    return await render_page(request, "info/logs.html", context)


@require_safe
@operator_page
async def worker_call_stacks(request, address: str):
    """Show the call stacks of the tasks running on one worker."""
    summary = await get_worker(address)
    stacks = await get_backend().aworker_call_stacks(summary.address)

    context = {
        "title": f"Call Stacks: {summary.address}",
        "stacks": stacks,
        "worker_address": summary.address,
    }
    return await render_page(request, "info/call_stacks.html", context)
