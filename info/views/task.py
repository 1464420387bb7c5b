"""The pages of one task: its detail and the call stacks it waits on."""

from __future__ import annotations

import time

from django.views.decorators.http import require_safe

from clusterdash import keys
from clusterdash.access import operator_page
from clusterdash.backends import TaskNotFound, get_backend

from ..lookups import get_snapshot, resolve_key, retained_failure
from .common import render_page
from .main import WORKER_COLUMNS, worker_rows


@require_safe
@operator_page
async def task(request, key: str):
    """Show a task's state, relations, restrictions, failure and story.

    For a released task that failed, the page shows the failure record that
    the scheduler kept. Any other unknown key gets a 404.
    """
    try:
        resolved = await resolve_key(key)
        detail = await get_backend().atask_detail(resolved)
    except TaskNotFound:
        failure = await retained_failure(key)
        if failure is None:
            raise
        context = {
            "title": f"Task: {keys.key_to_text(failure.key)}",
            "failure": failure,
        }
        return await render_page(request, "info/released_task.html", context)
    snapshot = await get_snapshot()

    holders = [w for w in (snapshot.worker(a) for a in detail.who_has) if w]
    story_rows = []
    for transition in detail.story:
        story_rows.append({"transition": transition, "recommendation": None})
        for recommendation in transition.recommendations:
            story_rows.append({"transition": None, "recommendation": recommendation})

    context = {
        "title": f"Task: {keys.key_to_text(detail.key)}",
        "key_repr": repr(detail.key),
        "task": detail,
        "holder_rows": worker_rows(holders, time.time()),
        "columns": WORKER_COLUMNS,
        "story_rows": story_rows,
        "dependencies_more": detail.dependencies_total - len(detail.dependencies),
        "dependents_more": detail.dependents_total - len(detail.dependents),
    }
    return await render_page(request, "info/task.html", context)


@require_safe
@operator_page
async def task_call_stack(request, key: str):
    """Show the call stacks of a task or of the running tasks it waits on."""
    resolved = await resolve_key(key)
    stacks = await get_backend().atask_call_stacks(resolved)

    context = {
        "title": f"Call Stack: {keys.key_to_text(resolved)}",
        "stacks": stacks,
        "task_key": resolved,
    }
    return await render_page(request, "info/call_stacks.html", context)
