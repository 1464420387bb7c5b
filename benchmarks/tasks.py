"""
Task functions that the benchmark workers run.

The worker pool processes start from ``benchmarks/``, so they import this
module by its top-level name, as the benchmark scripts do.
"""

from __future__ import annotations


def inc(x: int) -> int:
    return x + 1


def wait_for_event(event_name: str) -> int:
    """Block a worker thread until the named ``distributed.Event`` is set."""
    from distributed import Event

    Event(event_name).wait()
    return 0


def dependent(index: int, root: int) -> int:
    return index + root
