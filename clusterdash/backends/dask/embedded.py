"""
The embedded backend: a ``LocalCluster`` that the dashboard owns.

Used when no scheduler address is configured, so ``manage.py runserver`` on
a laptop shows a real cluster with no other setup. The cluster starts on
first use, in the serving process only, and closes when the process exits.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

from distributed import LocalCluster

from ..exceptions import SchedulerUnavailable
from . import worker_setup
from .backend import DaskBackend
from .demo import DemoWorkload
from .pickling import restore_method_pickling

logger = logging.getLogger(__name__)


class EmbeddedBackend(DaskBackend):
    """
    Start a ``LocalCluster`` on first use and read it like a remote one.

    Options, beside the common ones:

    ``n_workers``
        Worker processes to start (default 2).
    ``threads_per_worker``
        Threads in each worker (default 2).
    ``processes``
        Run workers in separate processes (default True); False keeps them
        as threads of the dashboard process.
    ``demo``
        Run the demo workload of ``clusterdash.backends.dask.demo`` on the
        cluster while it is up (default False).
    """

    def __init__(self, options: dict[str, Any] | None = None):
        super().__init__(options)
        self._cluster: LocalCluster | None = None
        self._cluster_lock = threading.Lock()
        self._closed = False
        self._demo: DemoWorkload | None = None

    @property
    def address(self) -> str:
        cluster = self._cluster
        if cluster is None:
            return "embedded LocalCluster, not started yet"
        return cluster.scheduler_address

    def _connect_address(self) -> str:
        return self.cluster().scheduler_address

    def cluster(self) -> LocalCluster:
        """Return the embedded cluster, starting it on the first call."""
        with self._cluster_lock:
            if self._closed:
                raise SchedulerUnavailable(self.address, "the dashboard is stopping")
            if self._cluster is None:
                self._cluster = self._start()
            return self._cluster

    def _start(self) -> LocalCluster:
        options = self.options
        logger.info("Starting the embedded LocalCluster")
        # The scheduler runs in this process, beside daphne's Twisted.
        restore_method_pickling()
        processes = bool(options.get("processes", True))
        # Threaded workers share this process, whose Ctrl-C must still work.
        preload = [worker_setup.__name__] if processes else []
        cluster = LocalCluster(
            n_workers=int(options.get("n_workers", 2)),
            threads_per_worker=int(options.get("threads_per_worker", 2)),
            processes=processes,
            preload=preload,
            host="127.0.0.1",
            # Without it, processes=False picks the inproc:// protocol, which
            # fails to start with a host set and cannot be reached over TCP.
            protocol="tcp://",
            scheduler_port=0,
            # ":0" picks a free port; Dask's dashboard itself is not wanted,
            # but the scheduler always opens its HTTP server.
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.WARNING,
        )
        atexit.register(self.close)
        logger.info("Embedded LocalCluster started at %s", cluster.scheduler_address)
        if options.get("demo"):
            self._demo = DemoWorkload(cluster.scheduler_address)
            self._demo.start()
        return cluster

    def close(self) -> None:
        self._closed = True
        super().close()
        with self._cluster_lock:
            cluster, self._cluster = self._cluster, None
            demo, self._demo = self._demo, None
        if demo is not None:
            demo.stop()
        if cluster is not None:
            logger.info("Closing the embedded LocalCluster")
            try:
                cluster.close(timeout=10)
            except Exception:
                logger.exception("Closing the embedded LocalCluster failed")
