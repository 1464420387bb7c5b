"""Create a staff superuser for a development install, once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

#: Name of the file under ``VAR_DIR`` that keeps the generated password.
PASSWORD_FILE = "superuser-password"


class Command(BaseCommand):
    help = (
        "Create a staff superuser if none exists and print how to log in. "
        "The generated password is kept in VAR_DIR/superuser-password "
        "(mode 0600), so later runs print the same one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username",
            default="admin",
            help="Name of the superuser to create (default: admin).",
        )
        parser.add_argument(
            "--login-url",
            default="",
            help="Login page URL to print with the credentials, for example "
            "http://127.0.0.1:8000/accounts/login/.",
        )

    def handle(self, *args, username: str, login_url: str, **options):
        user_model = get_user_model()
        existing = user_model.objects.filter(is_superuser=True, is_staff=True)
        password_path = Path(settings.VAR_DIR) / PASSWORD_FILE
        where = f" at {login_url}" if login_url else ""

        if not existing.exists():
            password = read_or_create_password(password_path)
            user_model.objects.create_superuser(username, password=password)
            self.stdout.write(f"Created the staff superuser {username!r}.")
        elif not existing.filter(username=username).exists():
            names = ", ".join(repr(user.username) for user in existing[:5])
            self.stdout.write(
                f"Log in{where} as an existing staff superuser: {names}. "
                "Its password was not set by this command."
            )
            return

        if not password_path.exists():
            self.stdout.write(
                f"Log in{where} as {username!r} with the password you set for it "
                f"({password_path} does not exist)."
            )
            return
        password = password_path.read_text().strip()
        self.stdout.write(f"Log in{where} as {username!r} with password {password!r}.")


def read_or_create_password(path: Path) -> str:
    """Return the password kept in ``path``, generating and saving one first."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    # Create the file with mode 0600 from the start, so the password is never
    # readable by other users, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(password + "\n")
    return password
