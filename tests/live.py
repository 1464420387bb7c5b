"""
Logins for tests that talk to a daphne subprocess.

A daphne subprocess has its own ``CLUSTERDASH_VAR_DIR`` and so its own
SQLite database. ``prepare_database`` gives that directory a migrated
database with an operator (staff) and a viewer (non-staff) user.
``login_session`` logs in through the real login form over HTTP and
returns the session cookie, for websocket clients and ``urllib``.
``login_browser`` does the same for a Playwright browser context.
"""

from __future__ import annotations

import functools
import http.cookiejar
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

#: Users that ``prepare_database`` creates: name -> (password, is_staff).
USERS = {
    "operator": ("operator-live-password", True),
    "viewer": ("viewer-live-password", False),
}

_CREATE_USERS = """
import django
django.setup()
from django.contrib.auth import get_user_model
users = get_user_model().objects
for name, (password, is_staff) in {users!r}.items():
    users.create_user(name, password=password, is_staff=is_staff)
"""

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _manage_environment(var_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clusterdash.settings",
        "CLUSTERDASH_VAR_DIR": str(var_dir),
        "CLUSTERDASH_DATABASE": str(var_dir / "db.sqlite3"),
    }


@functools.cache
def _template_database() -> Path:
    """Migrate one database with the users, once per test process."""
    var_dir = Path(tempfile.mkdtemp(prefix="clusterdash-live-db-"))
    environment = _manage_environment(var_dir)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=PROJECT,
        env=environment,
        check=True,
        timeout=300,
    )
    subprocess.run(
        [sys.executable, "-c", _CREATE_USERS.format(users=USERS)],
        cwd=PROJECT,
        env=environment,
        check=True,
        timeout=120,
    )
    return var_dir / "db.sqlite3"


def prepare_database(var_dir: Path) -> Path:
    """Copy the migrated database with ``USERS`` into ``var_dir``."""
    var_dir.mkdir(parents=True, exist_ok=True)
    target = var_dir / "db.sqlite3"
    if not target.exists():
        shutil.copyfile(_template_database(), target)
    return target


def login_session(base_url: str, username: str) -> str:
    """
    Log ``username`` in through the login form and return the session id.

    Raises ``AssertionError`` when the form does not log the user in.
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = base_url + "/accounts/login/"
    with opener.open(login_url, timeout=30) as response:
        form = response.read().decode()
    token = _CSRF_INPUT.search(form).group(1)
    body = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": USERS[username][0],
            "next": "/health",
        }
    ).encode()
    request = urllib.request.Request(
        login_url, data=body, headers={"Referer": login_url}
    )
    with opener.open(request, timeout=30) as response:
        assert response.url.endswith("/health"), response.url
    sessions = [cookie.value for cookie in jar if cookie.name == "sessionid"]
    assert sessions, f"logging in as {username!r} set no session cookie"
    return sessions[0]


def session_cookie(session_id: str) -> str:
    """Return the ``Cookie`` header value that carries ``session_id``."""
    return f"sessionid={session_id}"


def login_browser(context, base_url: str, username: str) -> None:
    """Log a Playwright (sync API) browser context in through the login form."""
    page = context.new_page()
    try:
        page.goto(base_url + "/accounts/login/?next=/health")
        page.fill("#id_username", username)
        page.fill("#id_password", USERS[username][0])
        page.click('#login-form input[type="submit"]')
        page.wait_for_url(base_url + "/health", timeout=30_000)
    finally:
        page.close()
