"""
The backend calls behind the info pages.

Views read cluster data only through these helpers. Each one owns the
backend call and the lookup of a worker or key from URL text. A missing
worker or key raises the backend's ``WorkerNotFound`` or ``TaskNotFound``,
and the site's middleware renders that as a 404 page naming it.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_plus

from clusterdash import keys
from clusterdash.backends import TaskNotFound, WorkerNotFound, get_backend
from clusterdash.backends.types import ErredTask, Key, Snapshot, WorkerSummary


def address_candidates(text: str) -> list[str]:
    """
    Return the addresses a decoded URL path segment may stand for.

    Django has decoded the path once. Links that Dask made were encoded
    twice in plus mode, so the text decoded once more is tried too.
    """
    candidates = [text]
    for decoded in (unquote_plus(text), unquote(text)):
        if decoded not in candidates:
            candidates.append(decoded)
    return candidates


async def get_snapshot() -> Snapshot:
    """Return the shared snapshot; raises ``SchedulerUnavailable``."""
    return await get_backend().asnapshot()


async def get_worker(text: str) -> WorkerSummary:
    """Return the current worker that URL text names, or raise a 404."""
    snapshot = await get_snapshot()
    for address in address_candidates(text):
        worker = snapshot.worker(address)
        if worker is not None:
            return worker
    raise WorkerNotFound(text)


async def resolve_key(text: str) -> Key:
    """Return the task key that URL text names, or raise a 404."""
    if text.startswith(keys.DIGEST_PREFIX):
        key = keys.key_for_digest(text)
        if key is None:
            raise TaskNotFound(text)
        return key
    return await get_backend().aresolve_key(keys.url_candidates(text))


async def retained_failure(text: str) -> ErredTask | None:
    """Return the retained failure of the key that URL text names, or None.

    The scheduler keeps a bounded record of recent failures after it
    releases their tasks, so a link from the exceptions page can outlive
    the task it names.
    """
    if text.startswith(keys.DIGEST_PREFIX):
        key = keys.key_for_digest(text)
        candidates = [] if key is None else [key]
    else:
        candidates = keys.url_candidates(text)
    for failure in await get_backend().aerred_tasks():
        if any(keys.same_key(failure.key, key) for key in candidates):
            return failure
    return None
