"""Logging filters for the console handler."""

from __future__ import annotations

import logging
import threading
import time

#: Top-level loggers whose INFO records the console shows: this site's apps,
#: and Django's and daphne's, which log the requests under runserver.
INFO_LOGGERS = frozenset(
    {"clusterdash", "info", "plots", "metrics", "workers", "django", "daphne"}
)


class SiteInfo(logging.Filter):
    """
    Pass INFO records of this site, Django and daphne, and warnings of all.

    The embedded cluster's scheduler logs at INFO on every call it runs, two
    lines a poll. Its records still reach the scheduler's own log, which the
    logs page shows; only the console leaves them out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return record.name.partition(".")[0] in INFO_LOGGERS


def is_client_error(record: logging.LogRecord) -> bool:
    """Return whether ``record`` reports a rejected request, not a fault.

    Django logs a request with a disallowed Host under ``django.security``
    at ERROR, and a 4xx response such as a permission denial under
    ``django.request`` at WARNING, both with the exception's traceback.
    """
    if record.name.startswith("django.security."):
        return True
    status = getattr(record, "status_code", None)
    return record.name == "django.request" and status is not None and status < 500


class ClientErrors(logging.Filter):
    """
    Print rejected requests without a traceback, one line a minute per kind.

    A kind is a logger and message template, such as Django's "Forbidden
    (Permission denied): %s", so one client sending bad requests cannot
    flood the console. The next line shown counts the lines left out.
    Server errors (5xx) pass unchanged.
    """

    #: Seconds between two lines of the same kind.
    every = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._shown_at: dict[tuple[str, str], float] = {}
        self._left_out: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not is_client_error(record):
            return True
        kind = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            shown_at = self._shown_at.get(kind)
            if shown_at is not None and now - shown_at < self.every:
                self._left_out[kind] = self._left_out.get(kind, 0) + 1
                return False
            self._shown_at[kind] = now
            left_out = self._left_out.pop(kind, 0)
        # The traceback of a rejected request shows Django's code, not a fault.
        record.exc_info = None
        record.exc_text = None
        if left_out:
            record.msg = f"{record.msg} ({left_out} more like it not shown)"
        return True
