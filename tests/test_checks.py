"""System checks that report broken clusterdash settings."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

DASK = "clusterdash.backends.dask.DaskBackend"


def _clusterdash_errors(**settings):
    with override_settings(**settings):
        messages = checks.run_checks()
    return [m for m in messages if m.id and m.id.startswith("clusterdash.")]


def _ids(messages):
    return [message.id for message in messages]


def test_shipped_settings_pass(backend_on_cluster):
    assert _clusterdash_errors() == []


@pytest.mark.parametrize(
    "config", [None, "clusterdash.backends.dask.DaskBackend", {"OPTIONS": {}}]
)
def test_setting_shape_is_e001(config):
    errors = _clusterdash_errors(CLUSTERDASH_BACKEND=config)
    assert _ids(errors) == ["clusterdash.E001"]
    assert "CLUSTERDASH_BACKEND" in errors[0].msg
    assert "Configuration" in errors[0].hint


def test_options_not_dict_is_e001():
    errors = _clusterdash_errors(
        CLUSTERDASH_BACKEND={"BACKEND": DASK, "OPTIONS": ["address"]}
    )
    assert _ids(errors) == ["clusterdash.E001"]


def test_unimportable_backend_is_e002():
    errors = _clusterdash_errors(
        CLUSTERDASH_BACKEND={"BACKEND": "clusterdash.backends.nothing.Backend"}
    )
    assert _ids(errors) == ["clusterdash.E002"]
    assert "clusterdash.backends.nothing.Backend" in errors[0].msg


def test_non_backend_class_is_e003():
    errors = _clusterdash_errors(
        CLUSTERDASH_BACKEND={"BACKEND": "collections.OrderedDict"}
    )
    assert _ids(errors) == ["clusterdash.E003"]
    assert "not a subclass" in errors[0].msg


@pytest.mark.parametrize(
    "name", ["poll_interval", "timeout", "worker_timeout", "idle_after"]
)
@pytest.mark.parametrize("value", [0, -1, "2", True, None])
def test_bad_interval_is_e004(name, value):
    options = {"address": "tcp://127.0.0.1:8786", name: value}
    errors = _clusterdash_errors(
        CLUSTERDASH_BACKEND={"BACKEND": DASK, "OPTIONS": options}
    )
    assert _ids(errors) == ["clusterdash.E004"]
    assert f"['{name}']" in errors[0].msg


def test_dask_backend_without_address_is_e005():
    errors = _clusterdash_errors(
        CLUSTERDASH_BACKEND={"BACKEND": DASK, "OPTIONS": {"address": ""}}
    )
    assert _ids(errors) == ["clusterdash.E005"]
    assert "CLUSTERDASH_SCHEDULER" in errors[0].hint


def test_embedded_backend_needs_no_address():
    errors = _clusterdash_errors(
        CLUSTERDASH_BACKEND={
            "BACKEND": "clusterdash.backends.dask.EmbeddedBackend",
            "OPTIONS": {"n_workers": 1},
        }
    )
    assert errors == []


@pytest.mark.parametrize("value", [0, 79, -5, "2000", 2000.0, True, None])
def test_bad_key_url_length_is_e006(value):
    errors = _clusterdash_errors(CLUSTERDASH_MAX_KEY_URL_LENGTH=value)
    assert _ids(errors) == ["clusterdash.E006"]
    assert "CLUSTERDASH_MAX_KEY_URL_LENGTH" in errors[0].msg


def test_key_url_length_minimum_accepted():
    assert _clusterdash_errors(CLUSTERDASH_MAX_KEY_URL_LENGTH=80) == []
