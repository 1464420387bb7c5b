"""
Load the backend named by the ``CLUSTERDASH_BACKEND`` setting.

The setting has the shape of Django's ``CACHES`` entries::

    CLUSTERDASH_BACKEND = {
        "BACKEND": "clusterdash.backends.dask.DaskBackend",
        "OPTIONS": {"address": "tcp://10.0.0.5:8786", "timeout": 2},
    }

The backend is imported and built on first use and cached for the process;
changing the setting (as tests do with ``override_settings``) closes the
old instance and the next use builds a new one.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .base import ClusterBackend

SETTING = "CLUSTERDASH_BACKEND"

_lock = threading.Lock()
_instance: ClusterBackend | None = None


def backend_config() -> dict[str, Any]:
    """Return the setting, checked for shape; raise ``ImproperlyConfigured``."""
    config = getattr(settings, SETTING, None)
    if not isinstance(config, dict):
        raise ImproperlyConfigured(
            f"{SETTING} must be a dict with a 'BACKEND' dotted path, "
            f"not {type(config).__name__}."
        )
    path = config.get("BACKEND")
    if not isinstance(path, str) or not path:
        raise ImproperlyConfigured(
            f"{SETTING}['BACKEND'] must be a dotted path to a backend class."
        )
    options = config.get("OPTIONS", {})
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"{SETTING}['OPTIONS'] must be a dict.")
    return config


def backend_class(path: str) -> type[ClusterBackend]:
    """Import the class at ``path``; raise ``ImproperlyConfigured``."""
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"{SETTING}['BACKEND'] = {path!r} could not be imported: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, ClusterBackend)):
        raise ImproperlyConfigured(
            f"{SETTING}['BACKEND'] = {path!r} is not a subclass of "
            "clusterdash.backends.ClusterBackend."
        )
    return cls


def get_backend() -> ClusterBackend:
    """Return the process's backend, building it on first use."""
    global _instance
    instance = _instance
    if instance is not None:
        return instance
    with _lock:
        if _instance is None:
            config = backend_config()
            cls = backend_class(config["BACKEND"])
            _instance = cls(config.get("OPTIONS", {}))
        return _instance


def reset_backend() -> None:
    """Close the cached backend, so the next use builds it from settings."""
    global _instance
    with _lock:
        instance, _instance = _instance, None
    if instance is not None:
        instance.close()


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        reset_backend()
