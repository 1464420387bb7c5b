"""
Start daphne and Debian's nginx on 127.0.0.1 for the deployment tests.

nginx runs with the configuration files shipped in ``docs/nginx/``; the
tests change only the ports, certificate paths and, for the broken-proxy
case, delete the websocket header lines.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
NGINX_DOCS = PROJECT / "docs" / "nginx"
NGINX = "/usr/sbin/nginx"

#: The public prefix that the shipped nginx files serve.
PREFIX = "/team-a/dask/"

#: Ports the deployment tests may bind.
PORTS = range(8900, 9000)

#: Username and password of the superuser each daphne's database gets.
USERNAME = "deploy-admin"
PASSWORD = "deploy-password-123"

_handed_out: set[int] = set()


def free_port() -> int:
    """Return a port in 8900-8999 that nothing listens on, once per run."""
    for port in PORTS:
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port in 8900-8999")


def wait_for_port(port: int, log_path: Path, timeout: float = 60.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                log = log_path.read_text(errors="replace")[-3000:]
                raise TimeoutError(
                    f"nothing listens on port {port} after {timeout} s:\n{log}"
                ) from exc
            time.sleep(0.2)


def _manage(environment: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=environment,
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def daphne(var_dir: Path, scheduler_address: str, *args: str, **env: str):
    """
    Run daphne for the ``with`` block and yield its port.

    The database in ``var_dir`` is migrated first and gets the superuser
    ``USERNAME``, so the tests log in through the real login form.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clusterdash.settings",
        "CLUSTERDASH_SCHEDULER": scheduler_address,
        "CLUSTERDASH_VAR_DIR": str(var_dir),
        "CLUSTERDASH_POLL_INTERVAL": "0.2",
        "CLUSTERDASH_SECRET_KEY": "deployment-tests-only-secret-key-0123456789",
        "DJANGO_SUPERUSER_USERNAME": USERNAME,
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "DJANGO_SUPERUSER_EMAIL": "admin@example.org",
        **env,
    }
    _manage(environment, "migrate", "--noinput")
    _manage(environment, "createsuperuser", "--noinput")
    port = free_port()
    log_path = var_dir / "daphne.log"
    log = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            *args,
            "clusterdash.asgi:application",
        ],
        cwd=PROJECT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, log_path)
        yield port
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def site_config(name: str, replacements: dict[str, str]) -> str:
    """
    Return the shipped nginx file ``name`` with exact text replaced.

    Each key must occur in the file, so a change to the shipped file that
    the tests no longer match fails here instead of testing something else.
    """
    text = (NGINX_DOCS / name).read_text()
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{old!r} not found in docs/nginx/{name}")
        text = text.replace(old, new)
    return text


def _main_config(directory: Path, site_path: Path) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\n"
        "worker_processes 1;\n"
        f"pid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} info;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        f"    access_log {directory / 'access.log'};\n"
        f"{temp}\n"
        f"    include {site_path};\n"
        "}\n"
    )


@contextlib.contextmanager
def nginx(directory: Path, site_text: str, port: int):
    """Run nginx with ``site_text`` in its http block, listening on ``port``."""
    directory.mkdir(parents=True, exist_ok=True)
    site_path = directory / "site.conf"
    site_path.write_text(site_text)
    config_path = directory / "nginx.conf"
    config_path.write_text(_main_config(directory, site_path))
    log_path = directory / "error.log"
    command = [NGINX, "-c", str(config_path), "-p", str(directory)]
    check = subprocess.run(
        [*command, "-t", "-e", str(log_path)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise AssertionError(f"nginx rejected its configuration:\n{check.stderr}")
    log = open(directory / "nginx.out", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [*command, "-e", str(log_path)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, log_path, timeout=20)
        yield port
    finally:
        _stop(process)
        log.close()


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    """Wait until ``url`` responds with any HTTP status."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer in {timeout} s") from exc
            time.sleep(0.3)
