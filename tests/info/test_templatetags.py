"""The template filters against Dask's own formatting functions."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from dask.utils import format_bytes as dask_format_bytes
from dask.utils import format_time as dask_format_time
from django.urls import resolve, reverse, set_script_prefix

from info.templatetags.clusterdash import (
    format_bytes,
    format_time,
    key_segment,
    key_text,
    segment_url,
)


@pytest.mark.parametrize(
    "seconds", [0.0, 5e-6, 0.0123, 1.5, 1234.567, 12345.67, 1234567.89]
)
def test_format_time_matches_dask(seconds):
    assert format_time(seconds) == dask_format_time(seconds)


@pytest.mark.parametrize("count", [0, 100, 1000, 2**20, 4 * 2**30, 3 * 2**40])
def test_format_bytes_matches_dask(count):
    assert format_bytes(count) == dask_format_bytes(count)


def test_format_bytes_of_unknown_size():
    assert format_bytes(None) == "unknown"


def test_segment_url_keeps_percent_escapes():
    segment = key_segment("50% done")

    url = segment_url("info:task", segment)

    assert url == "/info/task/50%25%20done.html"
    assert reverse("info:task", args=["x"]) == "/info/task/x.html"


@pytest.mark.parametrize("key", ["a+b c", ("x y", 0), "?q=1#f", "café/<b>"])
def test_segment_url_resolves_to_key(key):
    url = segment_url("info:task", key_segment(key))

    # The server resolves the path after percent-decoding it once.
    match = resolve(unquote(url))

    assert match.url_name == "task"
    assert match.args == (key_text(key),)


def test_segment_url_follows_script_prefix():
    segment = key_segment("inc-1")
    try:
        set_script_prefix("/team-a/dask/")
        prefixed = segment_url("info:task", segment)
    finally:
        set_script_prefix("/")
    plain = segment_url("info:task", segment)

    assert prefixed == "/team-a/dask/info/task/inc-1.html"
    assert plain == "/info/task/inc-1.html"
