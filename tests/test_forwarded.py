"""X-Forwarded-Proto counts only from trusted proxies."""

from __future__ import annotations

import pytest
from django.test import override_settings

from clusterdash.forwarded import is_trusted_proxy

LOGIN = "/accounts/login/"


@override_settings(CLUSTERDASH_TRUSTED_PROXIES=["127.0.0.1"])
def test_trusted_proxy_makes_cookies_secure(client):
    response = client.get(LOGIN, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response.cookies["csrftoken"]["secure"] is True


@override_settings(CLUSTERDASH_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_untrusted_peer_header_ignored(client):
    response = client.get(LOGIN, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert not response.cookies["csrftoken"]["secure"]


def test_no_trusted_proxies_by_default(client):
    response = client.get(LOGIN, HTTP_X_FORWARDED_PROTO="https")
    assert not response.cookies["csrftoken"]["secure"]


@override_settings(CLUSTERDASH_TRUSTED_PROXIES=["127.0.0.1"])
def test_trusted_proxy_plain_http_stays_plain(client):
    response = client.get(LOGIN, HTTP_X_FORWARDED_PROTO="http")
    assert not response.cookies["csrftoken"]["secure"]


@override_settings(CLUSTERDASH_TRUSTED_PROXIES=["127.0.0.1"])
def test_trusted_proxy_chain_first_value(client):
    response = client.get(LOGIN, HTTP_X_FORWARDED_PROTO="https, http")
    assert response.cookies["csrftoken"]["secure"] is True


@pytest.mark.parametrize(
    ("address", "trusted"),
    [
        ("10.1.2.3", True),
        ("10.255.0.1", True),
        ("11.0.0.1", False),
        ("::1", True),
        ("", False),
        (None, False),
        ("unix-socket", False),
    ],
)
def test_is_trusted_proxy(address, trusted):
    with override_settings(CLUSTERDASH_TRUSTED_PROXIES=["10.0.0.0/8", "::1"]):
        assert is_trusted_proxy(address) is trusted
