"""Redirects and login under the URL prefix, through nginx."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest

from .client import Session
from .servers import PREFIX

ENTRY_PATHS = [
    "/team-a/dask",
    "/team-a/dask/",
    "/team-a/dask/info",
    "/team-a/dask/info/",
]


@pytest.fixture(scope="module")
def logged_in(proxy):
    session = Session(proxy)
    response = session.login(PREFIX, PREFIX + "info/main/workers.html")
    assert response.status == 302, response.text[:500]
    return session


def _assert_under_prefix(url: str) -> None:
    path = urlsplit(url).path
    assert path.startswith(PREFIX), url
    assert "//" not in path, url


def test_login_lands_under_prefix(proxy):
    session = Session(proxy)
    response = session.login(PREFIX, PREFIX + "info/main/workers.html")
    assert response.status == 302
    location = urljoin(response.url, response.header("Location"))
    assert location == proxy + PREFIX + "info/main/workers.html"
    cookie = response.set_cookies()["sessionid"]
    assert f"Path={PREFIX}" in cookie
    landed = session.get(urlsplit(location).path)
    assert landed.status == 200


def test_login_form_posts_under_prefix(proxy):
    form = Session(proxy).get(PREFIX + "accounts/login/")
    assert form.status == 200
    assert f'action="{PREFIX}accounts/login/"' in form.text
    assert f"Path={PREFIX}" in form.set_cookies()["csrftoken"]


@pytest.mark.parametrize("path", ENTRY_PATHS)
def test_entry_path_one_hop(logged_in, path):
    response = logged_in.get(path)
    hops = 0
    while response.status in (301, 302, 303, 307, 308):
        hops += 1
        assert hops <= 1, f"{path} redirected more than once"
        location = urljoin(response.url, response.header("Location"))
        _assert_under_prefix(location)
        assert location.startswith(logged_in.origin), location
        response = logged_in.get(urlsplit(location).path)
    assert response.status == 200, (path, response.status)
    _assert_under_prefix(response.url)


def test_bare_prefix_reaches_status(logged_in):
    response = logged_in.get("/team-a/dask")
    assert response.status == 302
    assert response.header("Location") == PREFIX + "status"


def test_info_reaches_workers_page(logged_in):
    response = logged_in.get(PREFIX + "info/")
    assert response.status == 302
    assert response.header("Location") == PREFIX + "info/main/workers.html"


def test_unprefixed_paths_not_served(logged_in):
    # nginx serves only the prefix, so nothing leaks to the server root.
    for path in ["/status", "/info/main/workers.html", "/statics/plots/plots.css"]:
        assert logged_in.get(path).status == 404, path
