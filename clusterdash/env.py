"""
Typed readers for settings that come from the environment.

Each reader rejects a malformed value with ``ImproperlyConfigured`` naming
the variable, so a typo in a deployment fails at start-up instead of
silently falling back to a default.
"""

import math
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """Return the variable ``name``, or ``default`` when it is unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Return the variable ``name`` read as a boolean."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1, true, yes, on, "
        "0, false, no, off."
    )


def env_float(name: str, default: float) -> float:
    """Return the variable ``name`` read as a non-negative number."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if not math.isfinite(value) or value < 0:
        raise ImproperlyConfigured(
            f"{name}={raw!r} must be a finite number of at least 0."
        )
    return value


def env_int(name: str, default: int) -> int:
    """Return the variable ``name`` read as a non-negative whole number."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < 0:
        raise ImproperlyConfigured(f"{name}={raw!r} must not be negative.")
    return value


def env_list(name: str) -> list[str]:
    """Return the comma-separated variable ``name`` as a list, blanks dropped."""
    raw = os.environ.get(name, "")
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, default: str = "") -> str:
    """
    Return a secret from ``name`` or from the file named by ``<name>_FILE``.

    The file form keeps secrets out of process listings and lets container
    platforms mount them; surrounding white space in the file is ignored.
    """
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={path!r} could not be read: {exc.strerror}."
            ) from None
    return os.environ.get(name, default)
