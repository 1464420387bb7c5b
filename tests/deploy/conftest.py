"""
clusterdash behind Debian's nginx at ``/team-a/dask/``.

Two daphne processes serve the session cluster: one for proxies that pass
the prefix on (``--root-path``, with the prefix setting written without a
trailing slash) and one for a proxy that strips it (setting written with
the slash). Several nginx instances, each built from a file in
``docs/nginx/``, sit in front of them.
"""

from __future__ import annotations

import subprocess

import pytest

# steady_work keeps tasks finishing on the cluster while a test runs.
from tests.plots.test_browser import CHROMIUM_ARGS, steady_work  # noqa: F401

from .servers import PREFIX, daphne, free_port, nginx, site_config, wait_for_http


@pytest.fixture(scope="package")
def frame_origin():
    """Return the origin of the page that frames the plots (another port)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="package")
def keep_daphne(cluster, tmp_path_factory, frame_origin):
    """Run daphne for proxies that pass the prefix on; yield its port."""
    with daphne(
        tmp_path_factory.mktemp("keep-daphne"),
        cluster.scheduler_address,
        "--root-path",
        PREFIX.rstrip("/"),
        CLUSTERDASH_URL_PREFIX=PREFIX.rstrip("/"),
        CLUSTERDASH_TRUSTED_PROXIES="127.0.0.1",
        CLUSTERDASH_ALLOWED_ORIGINS=frame_origin,
    ) as port:
        yield port


@pytest.fixture(scope="package")
def strip_daphne(cluster, tmp_path_factory):
    """Run daphne for a proxy that strips the prefix; yield its port."""
    with daphne(
        tmp_path_factory.mktemp("strip-daphne"),
        cluster.scheduler_address,
        CLUSTERDASH_URL_PREFIX=PREFIX,
        CLUSTERDASH_TRUSTED_PROXIES="127.0.0.1",
    ) as port:
        yield port


def _proxy(tmp_path_factory, name: str, daphne_port: int, extra=None):
    port = free_port()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{daphne_port};",
        **(extra or {}),
    }
    text = site_config(name, replacements)
    return nginx(tmp_path_factory.mktemp(name.removesuffix(".conf")), text, port)


@pytest.fixture(scope="package")
def keep_proxy(tmp_path_factory, keep_daphne):
    """Return the origin of nginx passing the prefix on to daphne."""
    with _proxy(tmp_path_factory, "clusterdash-keep-prefix.conf", keep_daphne) as port:
        origin = f"http://127.0.0.1:{port}"
        wait_for_http(origin + PREFIX + "health")
        yield origin


@pytest.fixture(scope="package")
def strip_proxy(tmp_path_factory, strip_daphne):
    """Return the origin of nginx stripping the prefix."""
    with _proxy(
        tmp_path_factory, "clusterdash-strip-prefix.conf", strip_daphne
    ) as port:
        origin = f"http://127.0.0.1:{port}"
        wait_for_http(origin + PREFIX + "health")
        yield origin


@pytest.fixture(scope="package", params=["keep", "strip"])
def proxy(request):
    """Return the origin of each nginx mode in turn: keep and strip prefix."""
    return request.getfixturevalue(f"{request.param}_proxy")


@pytest.fixture(scope="package")
def no_upgrade_proxy(tmp_path_factory, keep_daphne):
    """Return the origin of nginx that does not forward websocket upgrades."""
    with _proxy(
        tmp_path_factory,
        "clusterdash-keep-prefix.conf",
        keep_daphne,
        {
            "    proxy_set_header Upgrade $http_upgrade;\n": "",
            "    proxy_set_header Connection $clusterdash_connection;\n": "",
        },
    ) as port:
        origin = f"http://127.0.0.1:{port}"
        wait_for_http(origin + PREFIX + "health")
        yield origin


@pytest.fixture(scope="package")
def certificate(tmp_path_factory):
    """Make a self-signed certificate for 127.0.0.1 with Debian's openssl."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "/usr/bin/openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="package")
def tls_proxy(tmp_path_factory, keep_daphne, certificate):
    """Return the https origin of nginx ending TLS in front of daphne."""
    cert, key = certificate
    port = free_port()
    redirect_port = free_port()
    text = site_config(
        "clusterdash-tls.conf",
        {
            "listen 80;": f"listen 127.0.0.1:{redirect_port};",
            "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{keep_daphne};",
            "server_name dash.example.org;": "server_name 127.0.0.1;",
            "/etc/ssl/certs/dash.example.org.pem": str(cert),
            "/etc/ssl/private/dash.example.org.key": str(key),
        },
    )
    with nginx(tmp_path_factory.mktemp("tls-nginx"), text, port):
        yield f"https://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser():
    """Start Debian's chromium through Playwright for one test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def log_in(context, origin: str, next_path: str = PREFIX + "info/main/workers.html"):
    """Log ``context`` in through the login form under the prefix."""
    from .servers import PASSWORD, USERNAME

    page = context.new_page()
    page.goto(f"{origin}{PREFIX}accounts/login/?next={next_path}")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    landed = page.url
    page.close()
    return landed


@pytest.fixture(scope="package")
def worker_address(cluster):
    """Return the address of one worker of the session cluster."""
    return sorted(cluster.scheduler_info["workers"])[0]
