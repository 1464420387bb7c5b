"""
System checks for clusterdash's own settings.

Run by ``manage.py check`` and at server start. Each message names the
setting to fix.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .backends.manager import SETTING, backend_class, backend_config

HINT = "See 'Configuration' in README.md."


@checks.register("clusterdash")
def check_backend(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Check that ``CLUSTERDASH_BACKEND`` names a usable backend class."""
    try:
        config = backend_config()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint=HINT, id="clusterdash.E001")]
    try:
        backend_class(config["BACKEND"])
    except ImproperlyConfigured as exc:
        error_id = (
            "clusterdash.E003" if "not a subclass" in str(exc) else "clusterdash.E002"
        )
        return [checks.Error(str(exc), hint=HINT, id=error_id)]
    options = config.get("OPTIONS", {})
    errors = []
    for name in ("poll_interval", "timeout", "worker_timeout", "idle_after"):
        if name not in options:
            continue
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(
                checks.Error(
                    f"{SETTING}['OPTIONS']['{name}'] must be a positive number "
                    f"of seconds, not {value!r}.",
                    hint=HINT,
                    id="clusterdash.E004",
                )
            )
    if config["BACKEND"].endswith(".DaskBackend") and not options.get("address"):
        errors.append(
            checks.Error(
                f"{SETTING}['OPTIONS']['address'] is empty, so the Dask backend "
                "has no scheduler to connect to.",
                hint="Set CLUSTERDASH_SCHEDULER, for example tcp://10.0.0.5:8786, "
                "or unset it to use the embedded cluster.",
                id="clusterdash.E005",
            )
        )
    return errors


@checks.register("clusterdash")
def check_key_url_length(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Check that ``CLUSTERDASH_MAX_KEY_URL_LENGTH`` is a sensible number."""
    value = getattr(settings, "CLUSTERDASH_MAX_KEY_URL_LENGTH", 2000)
    if isinstance(value, bool) or not isinstance(value, int) or value < 80:
        return [
            checks.Error(
                "CLUSTERDASH_MAX_KEY_URL_LENGTH must be a whole number of at "
                f"least 80 characters, not {value!r}.",
                hint=HINT,
                id="clusterdash.E006",
            )
        ]
    return []
