"""Logging filters for the console handler."""

from __future__ import annotations

import logging

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
