"""Fixtures of the worker-page tests: their own cluster and the site on it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from clusterdash.backends import reset_backend

from .cluster import backend_settings, worker_cluster

#: First of the six ports the cluster of these tests listens on.
BASE_PORT = 8520


@pytest.fixture(scope="module")
def workers_cluster(backend_on_cluster):
    """Run the cluster and point the site's backend at it for one module."""
    with worker_cluster(BASE_PORT) as cluster:
        with override_settings(
            CLUSTERDASH_BACKEND=backend_settings(cluster.scheduler_address)
        ):
            reset_backend()
            try:
                yield cluster
            finally:
                reset_backend()
