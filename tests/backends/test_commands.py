"""The management commands ``ensure_superuser`` and ``demo_workload``."""

from __future__ import annotations

import io
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _run(*args):
    output = io.StringIO()
    call_command(*args, stdout=output)
    return output.getvalue()


def test_ensure_superuser_creates_once(tmp_path):
    with override_settings(VAR_DIR=tmp_path):
        first = _run("ensure_superuser")
        second = _run("ensure_superuser")
    password_file = tmp_path / "superuser-password"
    password = password_file.read_text().strip()

    assert "Created the staff superuser 'admin'" in first
    assert password in first
    assert "Created" not in second
    assert password in second
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert len(password) >= 20

    user = get_user_model().objects.get(username="admin")
    assert user.is_staff
    assert user.is_superuser
    assert user.check_password(password)


def test_ensure_superuser_prints_login_url(tmp_path):
    url = "http://127.0.0.1:8000/accounts/login/"
    with override_settings(VAR_DIR=tmp_path):
        output = _run("ensure_superuser", "--login-url", url)
    password = (tmp_path / "superuser-password").read_text().strip()
    assert f"Log in at {url} as 'admin' with password {password!r}." in output


def test_ensure_superuser_keeps_existing(tmp_path):
    get_user_model().objects.create_superuser("root-admin", password="chosen")
    with override_settings(VAR_DIR=tmp_path):
        output = _run("ensure_superuser")
    assert "'root-admin'" in output
    assert not (tmp_path / "superuser-password").exists()
    assert not get_user_model().objects.filter(username="admin").exists()


def test_demo_workload_needs_address():
    config = {
        "BACKEND": "clusterdash.backends.dask.EmbeddedBackend",
        "OPTIONS": {},
    }
    with override_settings(CLUSTERDASH_BACKEND=config):
        with pytest.raises(CommandError, match="CLUSTERDASH_SCHEDULER"):
            call_command("demo_workload")


def test_demo_workload_rejects_negative_pause():
    with pytest.raises(CommandError, match="--pause"):
        call_command(
            "demo_workload", "--address", "tcp://127.0.0.1:8786", "--pause", "-1"
        )
