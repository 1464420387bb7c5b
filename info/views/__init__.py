"""Views of the ``/info`` pages and the ``/json`` endpoints."""

from .json_views import counts, identity, json_index
from .main import exceptions, info_redirect, scheduler_logs, workers
from .task import task, task_call_stack
from .worker import worker, worker_call_stacks, worker_logs

__all__ = [
    "counts",
    "exceptions",
    "identity",
    "info_redirect",
    "json_index",
    "scheduler_logs",
    "task",
    "task_call_stack",
    "worker",
    "worker_call_stacks",
    "worker_logs",
    "workers",
]
