"""
The text of a registry, shared between scrapes that arrive close together.

Rendering ``/metrics`` walks every collector of the process registry, so a
burst of scrapes would render the same text many times over. Scrapes within
``CLUSTERDASH_METRICS_CACHE_SECONDS`` of the last render get that text, and
concurrent scrapes wait for the render in flight instead of starting their
own. The text belongs to one backend object and one per-prefix cap, so a new
cluster or a changed setting renders afresh.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from clusterdash.backends import get_backend

from .collector import WORKER_REGISTRY, register_collectors

#: Dask's own endpoint sends text format 0.0.4; Prometheus servers of every
#: version parse it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SharedExposition:
    """The latest exposition text of one registry and when it was rendered."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._backend: weakref.ref | None = None
        self._max_prefixes: int | None = None
        self._body = b""
        self._rendered_at = 0.0

    def _fresh(self, backend) -> bool:
        keep = settings.CLUSTERDASH_METRICS_CACHE_SECONDS
        if keep <= 0 or self._backend is None:
            return False
        return (
            self._backend() is backend
            and self._max_prefixes == settings.CLUSTERDASH_METRICS_MAX_PREFIXES
            and time.monotonic() - self._rendered_at < keep
        )

    def render(self) -> bytes:
        """Return the registry's text, rendering it unless a recent one is kept.

        Blocks while a collector waits for the scheduler, at most the
        backend's timeout, so async callers run it in a thread. A scrape
        that found the scheduler unreachable is kept as well, which spares
        the scheduler a call per scrape while it is down.
        """
        register_collectors()
        backend = get_backend()
        with self._lock:
            if self._fresh(backend):
                return self._body
            body = generate_latest(self.registry)
            if settings.CLUSTERDASH_METRICS_CACHE_SECONDS <= 0:
                return body
            self._backend = weakref.ref(backend)
            self._max_prefixes = settings.CLUSTERDASH_METRICS_MAX_PREFIXES
            self._body = body
            self._rendered_at = time.monotonic()
            return body

    def forget(self) -> None:
        """Drop the kept text, so the next scrape renders afresh."""
        with self._lock:
            self._backend = None


#: ``/metrics``: the process registry with the scheduler families.
SCHEDULER_EXPOSITION = SharedExposition(REGISTRY)

#: ``/metrics/workers``: the worker families only.
WORKER_EXPOSITION = SharedExposition(WORKER_REGISTRY)


@receiver(setting_changed)
def _forget_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CLUSTERDASH_METRICS_"):
        SCHEDULER_EXPOSITION.forget()
        WORKER_EXPOSITION.forget()
