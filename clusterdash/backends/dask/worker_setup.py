"""
Preload module of the embedded cluster's worker processes.

Ctrl-C in a terminal sends SIGINT to the whole process group, worker
processes included, and each would print a ``KeyboardInterrupt``
traceback while the dashboard closes the cluster anyway. So the worker
processes ignore SIGINT, and the dashboard's shutdown stops them.
"""

from __future__ import annotations

import signal


def dask_setup(worker) -> None:
    """Ignore SIGINT in this worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
