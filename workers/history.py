"""
Time series of each worker's pages, kept in this process and bounded.

A worker reports only its current state, so the site keeps the samples
that draw "executing over time" and the like. Each worker keeps at most
``MAX_SAMPLES`` samples per series, and at most ``MAX_WORKERS`` workers are
kept: the one read longest ago is dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

#: Samples kept per series and worker.
MAX_SAMPLES = 1200

#: Task records kept per worker for the crossfilter page.
MAX_TASK_RECORDS = 5000

#: Workers whose history is kept at once.
MAX_WORKERS = 256


@dataclass
class WorkerHistory:
    """The samples kept for one worker."""

    status: deque = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    system: dict[str, deque] = field(default_factory=dict)
    system_count: int = 0
    #: Task records by (key, start), oldest first.
    tasks: OrderedDict = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_status(self, sample: dict[str, Any]) -> list[dict[str, Any]]:
        """Append one status sample and return every kept sample."""
        with self.lock:
            self.status.append(
                {
                    "time": sample["time"],
                    "executing": sample["executing"],
                    "nthreads": sample["nthreads"],
                    "incoming": sample["connections"],
                    "outgoing": sample["serving"],
                }
            )
            return list(self.status)

    def add_system(self, answer: dict[str, Any]) -> dict[str, list[float]]:
        """Append the new system samples and return every kept sample."""
        with self.lock:
            if answer["count"] < self.system_count:
                # The worker restarted under the same address.
                self.system.clear()
            for name, values in answer["samples"].items():
                series = self.system.setdefault(name, deque(maxlen=MAX_SAMPLES))
                series.extend(values)
            self.system_count = answer["count"]
            return {name: list(values) for name, values in self.system.items()}

    def add_tasks(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Merge new task records and return every kept record."""
        with self.lock:
            for record in sorted(records, key=lambda r: r["start"]):
                self.tasks[(record["key"], record["start"])] = record
            while len(self.tasks) > MAX_TASK_RECORDS:
                self.tasks.popitem(last=False)
            return list(self.tasks.values())


_histories: OrderedDict[str, WorkerHistory] = OrderedDict()
_lock = threading.Lock()


def history_of(address: str) -> WorkerHistory:
    """Return the history of ``address``, creating it if needed."""
    with _lock:
        history = _histories.get(address)
        if history is None:
            history = _histories[address] = WorkerHistory()
            while len(_histories) > MAX_WORKERS:
                _histories.popitem(last=False)
        else:
            _histories.move_to_end(address)
        return history
