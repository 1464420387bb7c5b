"""
Keep the garbage collector's full passes short in the serving process.

A full collection walks every tracked object. Once Django, Bokeh and
``distributed`` are imported, that is over 200,000 objects and about
100 ms, and under steady traffic a full pass ran about once a second,
stalling every request and websocket in the process for its length.
Objects that exist once the site has loaded live as long as the process.
``freeze_loaded_heap`` moves them out of the collector's sight, so later
passes walk only what requests and snapshots created since.
"""

from __future__ import annotations

import gc
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver

from .backends.manager import backend_class, backend_config

logger = logging.getLogger(__name__)


def load_lazy_modules() -> None:
    """Import what the first request would: every view and the backend."""
    get_resolver().url_patterns  # noqa: B018 -- importing the URLconf is the point
    try:
        backend_class(backend_config()["BACKEND"])
    except ImproperlyConfigured:
        # The first use of the backend reports a bad setting on its page.
        pass


def freeze_loaded_heap() -> int:
    """
    Import lazily loaded modules, collect, then freeze what is left.

    Does nothing while ``CLUSTERDASH_FREEZE_HEAP`` is off. Returns the
    number of objects frozen.
    """
    if not settings.CLUSTERDASH_FREEZE_HEAP:
        return 0
    load_lazy_modules()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("froze %d objects loaded at startup", frozen)
    return frozen
