"""
The cluster-state backend: the only part of the site that talks to Dask.

Pages, plots, metrics and consumers call ``get_backend()`` and read the
plain records in ``clusterdash.backends.types``; they never import
``distributed``. See ``base.ClusterBackend`` for the interface.
"""

from .base import ClusterBackend
from .exceptions import (
    BackendError,
    SchedulerUnavailable,
    TaskNotFound,
    WorkerNotFound,
    WorkerUnresponsive,
)
from .manager import get_backend, reset_backend

__all__ = [
    "BackendError",
    "ClusterBackend",
    "SchedulerUnavailable",
    "TaskNotFound",
    "WorkerNotFound",
    "WorkerUnresponsive",
    "get_backend",
    "reset_backend",
]
