"""The liveness probe, which the ASGI application handles before Django."""

from __future__ import annotations

import pytest
from channels.testing import HttpCommunicator
from django.test import override_settings

from clusterdash.asgi import application
from clusterdash.probes import HealthProbe


async def fetch(app, method: str, path: str, host: str = "127.0.0.1:8000"):
    communicator = HttpCommunicator(
        app, method, path, headers=[(b"host", host.encode())]
    )
    return await communicator.get_response(timeout=10)


def headers_of(response) -> dict[str, str]:
    return {
        name.decode().lower(): value.decode() for name, value in response["headers"]
    }


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_probe_matches_the_view(method):
    response = await fetch(application, method, "/health")

    assert response["status"] == 200
    assert response["body"] == (b"ok" if method == "GET" else b"")
    headers = headers_of(response)
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in headers


async def test_probe_ignores_host():
    # Kubernetes probes send the pod's address, which ALLOWED_HOSTS rarely
    # lists, and Django rejects such a request with 400.
    response = await fetch(application, "GET", "/health", host="10.1.2.3:8000")

    assert response["status"] == 200
    assert response["body"] == b"ok"


@pytest.mark.django_db
async def test_other_requests_reach_django():
    unknown_host = await fetch(application, "GET", "/sitemap.json", host="10.1.2.3")
    post = await fetch(application, "POST", "/health")
    near_miss = await fetch(application, "GET", "/healthz")

    assert unknown_host["status"] == 400
    # Django's CSRF check rejects the POST before the view's method check.
    assert post["status"] == 403
    assert near_miss["status"] == 404


async def test_prefixed_probe_path():
    async def django_stand_in(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with override_settings(URL_PREFIX="/team-a/dask"):
        prefixed = HealthProbe(django_stand_in)
    plain = HealthProbe(django_stand_in)

    for path in ("/health", "/team-a/dask/health"):
        assert (await fetch(prefixed, "GET", path))["status"] == 200
    assert (await fetch(plain, "GET", "/team-a/dask/health"))["status"] == 404
