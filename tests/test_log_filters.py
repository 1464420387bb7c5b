"""The console's filter: this site's INFO lines, and warnings from everyone."""

from __future__ import annotations

import logging
import sys

import pytest

from clusterdash.log_filters import ClientErrors, SiteInfo


def record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "message", None, None)


@pytest.mark.parametrize(
    ("name", "level", "shown"),
    [
        ("clusterdash.backends.dask.backend", logging.INFO, True),
        ("info.consumers", logging.INFO, True),
        ("django.channels.server", logging.INFO, True),
        ("distributed.worker", logging.INFO, False),
        ("distributed.worker", logging.WARNING, True),
        ("bokeh.server", logging.DEBUG, False),
        ("tornado.application", logging.ERROR, True),
    ],
)
def test_console_filter(name, level, shown):
    assert SiteInfo().filter(record(name, level)) is shown


def test_console_handler_uses_filter():
    from django.conf import settings

    filters = settings.LOGGING["handlers"]["console"]["filters"]
    assert filters == ["site_info", "client_errors"]


def rejected(name: str, level: int, status: int | None, message: str):
    entry = logging.LogRecord(name, level, __file__, 1, message, ("/x",), None)
    try:
        raise PermissionError("denied")
    except PermissionError:
        entry.exc_info = sys.exc_info()
    if status is not None:
        entry.status_code = status
    return entry


def test_client_errors_lose_traceback():
    entry = rejected("django.request", logging.WARNING, 403, "Forbidden: %s")

    assert ClientErrors().filter(entry) is True
    assert entry.exc_info is None


def test_client_errors_shown_once_a_minute(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("clusterdash.log_filters.time.monotonic", lambda: clock[0])
    throttle = ClientErrors()
    shown = [
        throttle.filter(rejected("django.security.DisallowedHost", 40, None, "Bad %s"))
        for _ in range(5)
    ]
    clock[0] += 61
    later = rejected("django.security.DisallowedHost", 40, None, "Bad %s")

    assert shown == [True, False, False, False, False]
    assert throttle.filter(later) is True
    assert later.getMessage() == "Bad /x (4 more like it not shown)"


def test_server_errors_pass_unchanged():
    throttle = ClientErrors()
    entries = [
        rejected("django.request", logging.ERROR, 500, "Internal: %s") for _ in range(3)
    ]

    assert [throttle.filter(entry) for entry in entries] == [True, True, True]
    assert all(entry.exc_info is not None for entry in entries)


def test_other_kinds_are_counted_apart():
    throttle = ClientErrors()
    forbidden = rejected("django.request", logging.WARNING, 403, "Forbidden: %s")
    missing = rejected("django.request", logging.WARNING, 404, "Not Found: %s")

    assert throttle.filter(forbidden) is True
    assert throttle.filter(missing) is True
