"""Point the site's backend at a cluster other than the session one."""

from __future__ import annotations

import contextlib

from django.test import override_settings

from clusterdash.backends import get_backend, reset_backend


@contextlib.contextmanager
def backend_for(address: str):
    """Use a DaskBackend on ``address`` for the ``with`` block; yield it."""
    options = {
        "address": address,
        "poll_interval": 0.2,
        "timeout": 2.0,
        "worker_timeout": 2.0,
    }
    reset_backend()
    try:
        with override_settings(
            CLUSTERDASH_BACKEND={
                "BACKEND": "clusterdash.backends.dask.DaskBackend",
                "OPTIONS": options,
            }
        ):
            yield get_backend()
    finally:
        # The next get_backend() builds the session cluster's backend again.
        reset_backend()
