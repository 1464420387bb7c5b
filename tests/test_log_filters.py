"""The console's filter: this site's INFO lines, and warnings from everyone."""

from __future__ import annotations

import logging

import pytest

from clusterdash.log_filters import SiteInfo


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

    assert settings.LOGGING["handlers"]["console"]["filters"] == ["site_info"]
