"""Errors that every cluster backend raises, so views can answer alike."""

from __future__ import annotations


class BackendError(Exception):
    """Base class of the errors a cluster backend raises on purpose."""


class SchedulerUnavailable(BackendError):
    """The scheduler could not be reached, or did not answer in time."""

    def __init__(self, address: str, reason: str):
        super().__init__(f"Scheduler {address} is unavailable: {reason}")
        self.address = address
        self.reason = reason


class WorkerNotFound(BackendError, LookupError):
    """No current worker has this address."""

    def __init__(self, address: str):
        super().__init__(f"No worker with address {address!r}")
        self.address = address


class WorkerUnresponsive(BackendError):
    """The worker is known but did not answer within the timeout."""

    def __init__(self, address: str, timeout: float):
        super().__init__(f"Worker {address} did not answer within {timeout:g} s")
        self.address = address
        self.timeout = timeout


class TaskNotFound(BackendError, LookupError):
    """The scheduler holds no task with this key."""

    def __init__(self, key_text: str):
        super().__init__(f"No task with key {key_text!r}")
        self.key_text = key_text
