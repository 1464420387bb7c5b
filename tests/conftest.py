"""
Shared fixtures: one real Dask cluster for the session, and named users.

The cluster is a ``LocalCluster`` with worker processes, so worker logs and
call stacks travel over the network as they do in production. Tests that
submit work use ``dask_client`` and clean up the futures they create.
"""

from __future__ import annotations

import logging

import pytest
from distributed import Client, LocalCluster
from django.test import override_settings

from clusterdash.backends import get_backend, reset_backend


@pytest.fixture(scope="session")
def cluster():
    """Start a real two-worker LocalCluster for the whole session."""
    with LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.WARNING,
    ) as local_cluster:
        yield local_cluster


@pytest.fixture(scope="session", autouse=True)
def backend_on_cluster(cluster, django_db_setup):
    """Point the site's backend at the session cluster."""
    settings_override = override_settings(
        CLUSTERDASH_BACKEND={
            "BACKEND": "clusterdash.backends.dask.DaskBackend",
            "OPTIONS": {
                "address": cluster.scheduler_address,
                "poll_interval": 0.2,
                "timeout": 2.0,
                "worker_timeout": 2.0,
            },
        }
    )
    settings_override.enable()
    yield cluster.scheduler_address
    settings_override.disable()
    reset_backend()


@pytest.fixture
def backend(backend_on_cluster):
    """Return the site's backend, connected to the session cluster."""
    return get_backend()


@pytest.fixture
def dask_client(cluster):
    """Return a client of the session cluster for submitting work."""
    with Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def wait_for_snapshot(backend):
    """Return a function that polls the snapshot until a condition holds."""
    import time

    def wait(condition, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            snapshot = backend.snapshot()
            if condition(snapshot):
                return snapshot
            if time.monotonic() > deadline:
                raise AssertionError(f"snapshot condition not met in {timeout} s")
            time.sleep(0.1)

    return wait


@pytest.fixture
def staff_user(django_user_model):
    """Return a staff user who may read logs, tasks and call stacks."""
    return django_user_model.objects.create_user(
        "operator", password="operator-password", is_staff=True
    )


@pytest.fixture
def plain_user(django_user_model):
    """Return a logged-in user without staff rights."""
    return django_user_model.objects.create_user("viewer", password="viewer-password")


@pytest.fixture
def staff_client(client, staff_user):
    """Return a test client logged in as the staff user."""
    client.force_login(staff_user)
    return client


@pytest.fixture
def viewer_client(client, plain_user):
    """Return a test client logged in as the non-staff user."""
    client.force_login(plain_user)
    return client


@pytest.fixture
async def staff_async_client(async_client, staff_user):
    """Return an async test client logged in as the staff user."""
    await async_client.aforce_login(staff_user)
    return async_client


@pytest.fixture
async def viewer_async_client(async_client, plain_user):
    """Return an async test client logged in as the non-staff user."""
    await async_client.aforce_login(plain_user)
    return async_client
