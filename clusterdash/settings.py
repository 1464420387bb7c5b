"""
Django settings for clusterdash.

Deployment-specific values come from the environment through the typed
readers in ``clusterdash.env``; see 'Configuration' in README.md.
"""

from pathlib import Path

from bokeh.settings import settings as bokeh_settings
from django.core.management.utils import get_random_secret_key

from .env import env_bool, env_float, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CLUSTERDASH_VAR_DIR", str(BASE_DIR / "var")))

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

# Login ------------------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "info:workers"
LOGOUT_REDIRECT_URL = "login"

#: Whether log, task and call-stack pages need a logged-in staff user.
CLUSTERDASH_STAFF_ONLY = env_bool("CLUSTERDASH_STAFF_ONLY", True)

# Static files ---------------------------------------------------------------------

STATIC_URL = "statics/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # BokehJS, served from the site itself so pages work without internet.
    ("bokeh/static", bokeh_settings.bokehjs_path()),
]
WHITENOISE_USE_FINDERS = True
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
            **_BACKEND_OPTIONS,
        },
    }

#: Longest encoded task key put in a link; longer keys link by digest.
CLUSTERDASH_MAX_KEY_URL_LENGTH = env_int("CLUSTERDASH_MAX_KEY_URL_LENGTH", 2000)

#: Rows per page in the workers table and in a worker's key list.
CLUSTERDASH_PAGE_SIZE = env_int("CLUSTERDASH_PAGE_SIZE", 200)

#: Bytes of log text one log page renders at most.
CLUSTERDASH_LOG_PAGE_BYTES = env_int("CLUSTERDASH_LOG_PAGE_BYTES", 1_000_000)

# Channels -----------------------------------------------------------------------------

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels.layers.InMemoryChannelLayer",
        "CONFIG": {"capacity": 10_000},
    }
}

# Logging ------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "loggers": {
        "clusterdash": {"handlers": ["console"], "level": "INFO"},
        "info": {"handlers": ["console"], "level": "INFO"},
        "plots": {"handlers": ["console"], "level": "INFO"},
        "metrics": {"handlers": ["console"], "level": "INFO"},
    },
}
