"""
Django settings for clusterdash.

Deployment-specific values come from the environment through the typed
readers in ``clusterdash.env``; see 'Configuration' in README.md.
"""

from pathlib import Path

from bokeh.settings import settings as bokeh_settings
from django.core.management.utils import get_random_secret_key

from .env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_origins,
    env_secret,
    env_str,
    env_url_prefix,
)
from .framing import add_static_headers

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CLUSTERDASH_VAR_DIR", str(BASE_DIR / "var")))
# The SQLite database and collected static files live here; creating it
# lets a plain `manage.py migrate` work on a fresh checkout.
(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)

# Core -----------------------------------------------------------------------

DEBUG = env_bool("CLUSTERDASH_DEBUG", False)

# Without a configured key each process makes its own, which is fine for one
# process on a laptop; several processes need one shared key.
SECRET_KEY = env_secret("CLUSTERDASH_SECRET_KEY") or get_random_secret_key()

ALLOWED_HOSTS = env_list("CLUSTERDASH_ALLOWED_HOSTS") or [
    "127.0.0.1",
    "localhost",
    "[::1]",
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_prometheus",
    "clusterdash",
    "info",
    "plots",
    "metrics",
    "workers",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # First, so every later middleware and view sees the public path and the
    # forwarded scheme.
    "clusterdash.forwarded.ForwardedRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last and synchronous, so the stack runs in one thread under ASGI.
    "clusterdash.middleware.BackendErrorMiddleware",
]

ROOT_URLCONF = "clusterdash.urls"
ASGI_APPLICATION = "clusterdash.asgi.application"
WSGI_APPLICATION = "clusterdash.wsgi.application"

# Dask's routes answer with and without a trailing slash themselves.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clusterdash.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(env_str("CLUSTERDASH_DATABASE", str(VAR_DIR / "db.sqlite3"))),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("CLUSTERDASH_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Deployment behind a proxy --------------------------------------------------------

#: Public URL path prefix of the site, such as ``/team-a/dask``, without a
#: trailing slash; empty serves the site at the root. See docs/deployment.md.
URL_PREFIX = env_url_prefix("CLUSTERDASH_URL_PREFIX")

# Django puts the prefix in front of every reversed URL and redirect, whether
# the proxy passes the prefix on (daphne --root-path) or strips it.
FORCE_SCRIPT_NAME = URL_PREFIX or None
SESSION_COOKIE_PATH = f"{URL_PREFIX}/"
CSRF_COOKIE_PATH = f"{URL_PREFIX}/"
LANGUAGE_COOKIE_PATH = f"{URL_PREFIX}/"

#: Peers (addresses or CIDR networks) whose ``X-Forwarded-Proto`` header is
#: believed; from any other peer the header is ignored.
CLUSTERDASH_TRUSTED_PROXIES = env_networks("CLUSTERDASH_TRUSTED_PROXIES")

#: Origins besides the site itself, such as JupyterLab's
#: ``http://127.0.0.1:8888``: they may frame the individual plots, read
#: /individual-plots.json, open the site's websockets and send forms.
#: ``CLUSTERDASH_FRAME_ANCESTORS`` is the older name of the variable.
CLUSTERDASH_ALLOWED_ORIGINS = env_origins("CLUSTERDASH_ALLOWED_ORIGINS") or (
    env_origins("CLUSTERDASH_FRAME_ANCESTORS")
)
CSRF_TRUSTED_ORIGINS = CLUSTERDASH_ALLOWED_ORIGINS

# Access control: login and roles (clusterdash/access.py) -----------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "info:workers"
LOGOUT_REDIRECT_URL = "login"

#: Whether every page, JSON endpoint and websocket needs a logged-in user
#: (the viewer role). Off gives anonymous users the viewer role.
#: /health, /ready and /metrics (see CLUSTERDASH_METRICS_TOKEN) stay open.
CLUSTERDASH_LOGIN_REQUIRED = env_bool("CLUSTERDASH_LOGIN_REQUIRED", True)

#: Whether logs, task pages, call stacks, the proxy and the hardware
#: benchmark need a logged-in staff user (the operator role). Off gives
#: them to everyone with the viewer role.
CLUSTERDASH_STAFF_ONLY = env_bool("CLUSTERDASH_STAFF_ONLY", True)

# Static files ---------------------------------------------------------------------

# Django adds the script prefix to a relative STATIC_URL at its first use. A
# configured prefix is spelled out instead, so no first request can miss it.
STATIC_URL = f"{URL_PREFIX}/statics/" if URL_PREFIX else "statics/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # BokehJS, served from the site itself so pages work without internet.
    ("bokeh/static", bokeh_settings.bokehjs_path()),
]
WHITENOISE_USE_FINDERS = True
WHITENOISE_ADD_HEADERS_FUNCTION = add_static_headers
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Cluster backend ------------------------------------------------------------------

_SCHEDULER = env_str("CLUSTERDASH_SCHEDULER")
_BACKEND_OPTIONS = {
    "poll_interval": env_float("CLUSTERDASH_POLL_INTERVAL", 0.5),
    "timeout": env_float("CLUSTERDASH_TIMEOUT", 2.0),
    "worker_timeout": env_float("CLUSTERDASH_WORKER_TIMEOUT", 3.0),
}
if _SCHEDULER:
    CLUSTERDASH_BACKEND = {
        "BACKEND": "clusterdash.backends.dask.DaskBackend",
        "OPTIONS": {"address": _SCHEDULER, **_BACKEND_OPTIONS},
    }
else:
    CLUSTERDASH_BACKEND = {
        "BACKEND": "clusterdash.backends.dask.EmbeddedBackend",
        "OPTIONS": {
            "n_workers": env_int("CLUSTERDASH_EMBEDDED_WORKERS", 2),
            "demo": env_bool("CLUSTERDASH_DEMO", False),
            **_BACKEND_OPTIONS,
        },
    }

#: Longest encoded task key put in a link; longer keys link by digest.
CLUSTERDASH_MAX_KEY_URL_LENGTH = env_int("CLUSTERDASH_MAX_KEY_URL_LENGTH", 2000)

#: Rows per page in the workers table and in a worker's key list.
CLUSTERDASH_PAGE_SIZE = env_int("CLUSTERDASH_PAGE_SIZE", 200)

#: Bytes of log text one log page renders at most.
CLUSTERDASH_LOG_PAGE_BYTES = env_int("CLUSTERDASH_LOG_PAGE_BYTES", 1_000_000)

#: Whether the ASGI application freezes the objects it loaded at startup, so
#: the garbage collector's full passes skip them (see ``clusterdash.heap``).
CLUSTERDASH_FREEZE_HEAP = env_bool("CLUSTERDASH_FREEZE_HEAP", True)

# Live plots ---------------------------------------------------------------------------

#: Tasks the graph plot draws at most; above this it shows progress by prefix.
CLUSTERDASH_GRAPH_MAX_ITEMS = env_int("CLUSTERDASH_GRAPH_MAX_ITEMS", 5000)

# Metrics and event stream -------------------------------------------------------------

#: Bearer token that /metrics and /metrics/workers require; empty leaves them
#: open. Prometheus sends it with ``authorization: {credentials: ...}``.
CLUSTERDASH_METRICS_TOKEN = env_secret("CLUSTERDASH_METRICS_TOKEN") or ""

#: Task prefixes that get their own series in the per-prefix families; the
#: least active ones are summed under ``task_prefix_name="other"``. 0 = no cap.
CLUSTERDASH_METRICS_MAX_PREFIXES = env_int("CLUSTERDASH_METRICS_MAX_PREFIXES", 200)

#: Seconds for which scrapes of /metrics share one rendered text and one
#: scheduler call; 0 renders the text and calls the scheduler on every scrape.
CLUSTERDASH_METRICS_CACHE_SECONDS = env_float("CLUSTERDASH_METRICS_CACHE_SECONDS", 1.0)

#: Channel layer alias that carries /eventstream events between daphne
#: processes; empty fans out inside this process only (the fast default).
CLUSTERDASH_EVENTSTREAM_LAYER = env_str("CLUSTERDASH_EVENTSTREAM_LAYER", "")

#: Whether this process polls the cluster and publishes events to the layer.
#: With a layer, set it on exactly one process, or each event arrives once
#: per publishing process.
CLUSTERDASH_EVENTSTREAM_PUBLISHER = env_bool("CLUSTERDASH_EVENTSTREAM_PUBLISHER", True)

#: Messages one /eventstream subscriber may have waiting; a reader that falls
#: further behind is disconnected with close code 1013.
CLUSTERDASH_EVENTSTREAM_QUEUE = env_int("CLUSTERDASH_EVENTSTREAM_QUEUE", 10_000)

#: Bytes waiting in a subscriber's socket buffer before it counts as stalled.
CLUSTERDASH_EVENTSTREAM_BUFFER_BYTES = env_int(
    "CLUSTERDASH_EVENTSTREAM_BUFFER_BYTES", 4_000_000
)

#: Largest frame a client may send to /eventstream, in bytes; a larger one
#: closes the socket with code 1009.
CLUSTERDASH_EVENTSTREAM_MAX_FRAME = env_int("CLUSTERDASH_EVENTSTREAM_MAX_FRAME", 65_536)

# Channels -----------------------------------------------------------------------------

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels.layers.InMemoryChannelLayer",
        "CONFIG": {"capacity": 10_000},
    }
}

#: Redis server for the ``redis`` channel layer, for example
#: ``redis://127.0.0.1:6379/0``; set CLUSTERDASH_EVENTSTREAM_LAYER=redis to
#: share /eventstream events between several daphne processes.
CLUSTERDASH_REDIS_URL = env_str("CLUSTERDASH_REDIS_URL", "")

#: Event batches that Redis keeps waiting for one daphne process (all its
#: /eventstream sockets share them). channels-redis 4.3 drops a group
#: message for a process whose queue is full and logs that only at INFO, so
#: /eventstream logs the gap in the batch numbers as a warning.
CLUSTERDASH_REDIS_CAPACITY = env_int("CLUSTERDASH_REDIS_CAPACITY", 10_000)

if CLUSTERDASH_REDIS_URL:
    CHANNEL_LAYERS["redis"] = {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [CLUSTERDASH_REDIS_URL],
            "capacity": CLUSTERDASH_REDIS_CAPACITY,
        },
    }

# Logging ------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {
        "site_info": {"()": "clusterdash.log_filters.SiteInfo"},
        "client_errors": {"()": "clusterdash.log_filters.ClientErrors"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["site_info", "client_errors"],
        },
    },
    # The handler sits on the root logger, replacing the one daphne's command
    # line installs, so each line is printed once under daphne as well.
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        name: {"level": "INFO"}
        for name in ("clusterdash", "info", "plots", "metrics", "workers")
    },
}
