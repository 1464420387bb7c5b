"""The typed readers that turn environment variables into settings."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from clusterdash.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_origins,
    env_secret,
    env_str,
    env_url_prefix,
)

NAME = "CLUSTERDASH_TEST_VALUE"


@pytest.fixture(autouse=True)
def clean_variable(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.delenv(f"{NAME}_FILE", raising=False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        (" YES ", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env_bool(NAME, not expected) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled", "tru"])
def test_env_bool_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_bool(NAME)
    assert NAME in str(raised.value)
    assert repr(raw) in str(raised.value)


def test_env_bool_default_when_unset():
    assert env_bool(NAME, True) is True
    assert env_bool(NAME, False) is False


@pytest.mark.parametrize(("raw", "expected"), [("0.5", 0.5), ("2", 2.0), ("0", 0.0)])
def test_env_float_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env_float(NAME, 9.0) == expected


@pytest.mark.parametrize("raw", ["fast", "1,5", "0.5s", "-0.1", "-3"])
def test_env_float_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_float(NAME, 1.0)
    assert NAME in str(raised.value)


def test_env_float_rejects_negative_infinity(monkeypatch):
    monkeypatch.setenv(NAME, "-inf")
    with pytest.raises(ImproperlyConfigured):
        env_float(NAME, 1.0)


# NaN would pass the E004 check, because NaN <= 0 is false.
@pytest.mark.parametrize("raw", ["nan", "inf", "Infinity"])
def test_env_float_rejects_non_finite(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured):
        env_float(NAME, 1.0)


@pytest.mark.parametrize("raw", ["", "   "])
def test_env_float_blank_means_default(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    assert env_float(NAME, 1.5) == 1.5


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("200", 200), (" 7 ", 7)])
def test_env_int_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env_int(NAME, 1) == expected


@pytest.mark.parametrize("raw", ["1.5", "ten", "2e3", "-1", "0x10", "1_000x"])
def test_env_int_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_int(NAME, 1)
    assert NAME in str(raised.value)


def test_env_list_drops_blanks(monkeypatch):
    monkeypatch.setenv(NAME, " a.example , ,b.example,")
    assert env_list(NAME) == ["a.example", "b.example"]


def test_env_list_unset_is_empty():
    assert env_list(NAME) == []


def test_env_str_default(monkeypatch):
    assert env_str(NAME, "fallback") == "fallback"
    monkeypatch.setenv(NAME, "tcp://10.0.0.5:8786")
    assert env_str(NAME, "fallback") == "tcp://10.0.0.5:8786"


def test_env_secret_reads_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("  from-file\n")
    monkeypatch.setenv(NAME, "from-variable")
    monkeypatch.setenv(f"{NAME}_FILE", str(secret))
    assert env_secret(NAME) == "from-file"


def test_env_secret_missing_file_rejected(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-secret"
    monkeypatch.setenv(f"{NAME}_FILE", str(missing))
    with pytest.raises(ImproperlyConfigured) as raised:
        env_secret(NAME)
    assert f"{NAME}_FILE" in str(raised.value)
    assert str(missing) in str(raised.value)


def test_env_secret_from_variable(monkeypatch):
    assert env_secret(NAME, "default") == "default"
    monkeypatch.setenv(NAME, "from-variable")
    assert env_secret(NAME) == "from-variable"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("/", ""),
        ("team-a/dask", "/team-a/dask"),
        ("/team-a/dask", "/team-a/dask"),
        ("/team-a/dask/", "/team-a/dask"),
        ("//team-a//dask//", "/team-a/dask"),
        (" /dash/ ", "/dash"),
        ("/a/b/c.d~e/", "/a/b/c.d~e"),
    ],
)
def test_env_url_prefix_normalises(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env_url_prefix(NAME) == expected


def test_env_url_prefix_unset():
    assert env_url_prefix(NAME) == ""


@pytest.mark.parametrize("raw", ["/a b/", "/dash?x=1", "/dash#top", "/../x", "/a/%2F"])
def test_env_url_prefix_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_url_prefix(NAME)
    assert NAME in str(raised.value)


def test_env_origins_normalises(monkeypatch):
    monkeypatch.setenv(NAME, "http://127.0.0.1:8888/, HTTPS://Lab.Example.org")
    assert env_origins(NAME) == ["http://127.0.0.1:8888", "https://lab.example.org"]


@pytest.mark.parametrize(
    "raw",
    [
        "127.0.0.1:8888",
        "ftp://host",
        "http://host/lab",
        "http://host:port",
        "http://user@host",
        "http://",
    ],
)
def test_env_origins_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_origins(NAME)
    assert NAME in str(raised.value)
    assert repr(raw) in str(raised.value)


def test_env_networks_accepts(monkeypatch):
    monkeypatch.setenv(NAME, "127.0.0.1, 10.0.0.0/8, ::1, 192.168.1.7/24")
    assert env_networks(NAME) == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
        "192.168.1.0/24",
    ]


@pytest.mark.parametrize("raw", ["localhost", "10.0.0.0/33", "1.2.3"])
def test_env_networks_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_networks(NAME)
    assert repr(raw) in str(raised.value)
