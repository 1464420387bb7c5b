"""Worker addresses in paths reach daphne intact through either proxy mode."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from .client import Session
from .servers import PREFIX


def _forms(address: str) -> list[str]:
    once = quote(address, safe="")
    return [address, once, quote(once, safe="")]


@pytest.fixture(scope="module")
def logged_in(proxy):
    session = Session(proxy)
    assert session.login(PREFIX, PREFIX).status == 302
    return session


@pytest.mark.parametrize("form", [0, 1, 2], ids=["raw", "encoded", "twice"])
def test_worker_pages_by_address(logged_in, worker_address, form):
    segment = _forms(worker_address)[form]
    for path in [
        f"workers/{segment}/status",
        f"workers/{segment}/counters.json",
        f"info/worker/{segment}.html",
    ]:
        response = logged_in.get(PREFIX + path)
        assert response.status == 200, (path, response.status)


def test_worker_links_have_no_double_slash(logged_in, worker_address):
    segment = quote(worker_address, safe="")
    response = logged_in.get(f"{PREFIX}workers/{segment}/")
    assert response.status == 200
    assert f'href="{PREFIX}workers/{segment}/status"' in response.text
    links = re.findall(r'(?:href|src|action|data-url)="([^"]*)"', response.text)
    assert len(links) > 10
    for link in links:
        assert "//" not in link, link
