"""Settings for the test suite: the real ones, with faster polling."""

from clusterdash.settings import *  # noqa: F403

# The session fixture in conftest.py points this at its own LocalCluster.
CLUSTERDASH_BACKEND = {
    "BACKEND": "clusterdash.backends.dask.DaskBackend",
    "OPTIONS": {"address": "", "poll_interval": 0.2, "timeout": 2.0},
}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Tests compute and then scrape at once, so every scrape asks the scheduler;
# the shared answer has a test of its own.
CLUSTERDASH_METRICS_CACHE_SECONDS = 0.0

# The test process imports the ASGI application after its fixtures have
# started clusters; freezing then would keep their garbage forever.
CLUSTERDASH_FREEZE_HEAP = False
