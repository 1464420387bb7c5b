"""Loading the backend named by the ``CLUSTERDASH_BACKEND`` setting."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from clusterdash.backends import ClusterBackend, get_backend, reset_backend
from clusterdash.backends.dask import DaskBackend


class NotABackend:
    """A class that does not derive from ``ClusterBackend``."""


class FailingBackend(ClusterBackend):
    """A backend whose constructor raises, like one with a bad credential."""

    def __init__(self, options=None):
        raise PermissionError("credential file is not readable")


class RecordingBackend(ClusterBackend):
    """A backend that keeps the options it was built with."""

    address = "recording"


def _configured(config):
    return override_settings(CLUSTERDASH_BACKEND=config)


@pytest.fixture(autouse=True)
def fresh_backend():
    reset_backend()
    yield
    reset_backend()


def test_bad_dotted_path_names_setting():
    with _configured({"BACKEND": "clusterdash.backends.no_such.Backend"}):
        with pytest.raises(ImproperlyConfigured) as raised:
            get_backend()
    message = str(raised.value)
    assert "CLUSTERDASH_BACKEND['BACKEND']" in message
    assert "clusterdash.backends.no_such.Backend" in message


def test_path_without_module_rejected():
    with _configured({"BACKEND": "NoDots"}):
        with pytest.raises(ImproperlyConfigured, match="CLUSTERDASH_BACKEND"):
            get_backend()


def test_class_not_subclass_rejected():
    path = "tests.backends.test_manager.NotABackend"
    with _configured({"BACKEND": path}):
        with pytest.raises(ImproperlyConfigured) as raised:
            get_backend()
    assert "not a subclass" in str(raised.value)
    assert path in str(raised.value)


def test_constructor_error_keeps_type():
    with _configured({"BACKEND": "tests.backends.test_manager.FailingBackend"}):
        with pytest.raises(PermissionError, match="credential file"):
            get_backend()


def test_missing_options_means_defaults():
    with _configured({"BACKEND": "tests.backends.test_manager.RecordingBackend"}):
        backend = get_backend()
    assert isinstance(backend, RecordingBackend)
    assert backend.options == {}
    assert backend.poll_interval == 0.5
    assert backend.timeout == 2.0


def test_options_passed_to_backend():
    config = {
        "BACKEND": "tests.backends.test_manager.RecordingBackend",
        "OPTIONS": {"poll_interval": 0.25, "timeout": 4, "custom": "value"},
    }
    with _configured(config):
        backend = get_backend()
    assert backend.options["custom"] == "value"
    assert backend.poll_interval == 0.25
    assert backend.timeout == 4.0


@pytest.mark.parametrize("options", [None, ["poll_interval", 1], "timeout=2"])
def test_options_not_dict_rejected(options):
    config = {"BACKEND": "clusterdash.backends.dask.DaskBackend", "OPTIONS": options}
    with _configured(config):
        with pytest.raises(ImproperlyConfigured, match=r"\['OPTIONS'\] must be a dict"):
            get_backend()


@pytest.mark.parametrize("config", [None, "clusterdash.backends.dask.DaskBackend", {}])
def test_setting_shape_rejected(config):
    with _configured(config):
        with pytest.raises(ImproperlyConfigured, match="CLUSTERDASH_BACKEND"):
            get_backend()


def test_backend_cached_until_setting_changes():
    first = get_backend()
    assert get_backend() is first
    config = {"BACKEND": "tests.backends.test_manager.RecordingBackend"}
    with _configured(config):
        assert isinstance(get_backend(), RecordingBackend)
    assert isinstance(get_backend(), DaskBackend)
    assert get_backend() is not first
