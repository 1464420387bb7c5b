"""
Typed readers for settings that come from the environment.

Each reader rejects a malformed value with ``ImproperlyConfigured`` naming
the variable, so a typo in a deployment fails at start-up instead of
silently falling back to a default.
"""

import ipaddress
import math
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

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


# Characters of one path segment that need no percent-encoding (RFC 3986
# "pchar" without "%"), so the prefix can be used in URLs and cookie paths
# as written.
_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@-]+")


def env_url_prefix(name: str) -> str:
    """
    Return the URL path prefix in ``name``, normalised to ``/a/b`` form.

    Leading, trailing and repeated slashes are dropped, so ``team-a/dask``,
    ``/team-a/dask`` and ``/team-a/dask/`` are the same prefix. An unset
    or empty variable, or ``/`` alone, returns ``""`` (the site root).
    """
    raw = os.environ.get(name, "")
    segments = [segment for segment in raw.strip().split("/") if segment]
    for segment in segments:
        if segment in {".", ".."} or not _SEGMENT.fullmatch(segment):
            raise ImproperlyConfigured(
                f"{name}={raw!r} is not a valid URL path prefix: the segment "
                f"{segment!r} must contain only letters, digits and "
                "-._~!$&'()*+,;=:@, and must not be . or .., for example "
                "/team-a/dask/."
            )
    return "".join(f"/{segment}" for segment in segments)


def env_origins(name: str) -> list[str]:
    """
    Return the comma-separated web origins in ``name``, normalised.

    Each origin is ``scheme://host[:port]`` with scheme ``http`` or
    ``https`` and no path, as browsers send it in the ``Origin`` header.
    A trailing slash is dropped, and scheme and host are lowercased.
    """
    origins = []
    for item in env_list(name):
        parts = urlsplit(item)
        try:
            port = parts.port
        except ValueError:
            port = -1
        valid = (
            parts.scheme.lower() in {"http", "https"}
            and parts.hostname
            and port != -1
            and parts.path in {"", "/"}
            and not parts.query
            and not parts.fragment
            and not parts.username
        )
        if not valid:
            raise ImproperlyConfigured(
                f"{name} contains {item!r}, which is not a web origin; write "
                "scheme://host[:port] with http or https and no path, for "
                "example http://127.0.0.1:8888."
            )
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        origins.append(origin)
    return origins


def env_networks(name: str) -> list[str]:
    """
    Return the comma-separated IP addresses or networks in ``name``.

    Each item is an address (``127.0.0.1``, ``::1``) or a network in CIDR
    form (``10.0.0.0/8``); the result keeps them as normalised text.
    """
    networks = []
    for item in env_list(name):
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} contains {item!r}, which is not an IP address or a "
                "CIDR network such as 10.0.0.0/8."
            ) from None
        networks.append(str(network))
    return networks
