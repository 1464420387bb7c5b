"""Scrapes served ahead of Django by ``MetricsEndpoint``, on the real cluster."""

from __future__ import annotations

import pytest
from channels.testing import HttpCommunicator
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from clusterdash.asgi import application
from metrics.asgi import MetricsEndpoint

pytestmark = pytest.mark.usefixtures("backend")


async def fetch(app, path: str, method: str = "GET", **headers: str):
    headers.setdefault("host", "127.0.0.1:8000")
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    communicator = HttpCommunicator(app, method, path, headers=raw)
    return await communicator.get_response(timeout=15)


def headers_of(response) -> dict[str, str]:
    return {
        name.decode().lower(): value.decode() for name, value in response["headers"]
    }


def family_names(response) -> set[str]:
    text = response["body"].decode()
    return {family.name for family in text_string_to_metric_families(text)}


async def django_stand_in(scope, receive, send):
    """Respond with 418, so a test can tell which requests were passed on."""
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/metrics", "dask_scheduler_workers"),
        ("/metrics/workers", "dask_worker_threads"),
    ],
)
async def test_scrape_skips_django(path, family):
    response = await fetch(MetricsEndpoint(django_stand_in), path)

    assert response["status"] == 200
    assert family in family_names(response)
    headers = headers_of(response)
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["content-length"]) == len(response["body"])
    assert headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in headers


async def test_scheduler_scrape_matches_the_view(client):
    fast = await fetch(application, "/metrics")
    view = client.get("/metrics")

    assert fast["status"] == 200
    assert view.status_code == 200
    assert headers_of(fast)["content-type"] == view["Content-Type"]
    # The request families may differ by this scrape, the rest may not.
    dask_families = {n for n in family_names(fast) if n.startswith("dask_")}
    view_families = {
        family.name
        for family in text_string_to_metric_families(view.content.decode())
        if family.name.startswith("dask_")
    }
    assert dask_families == view_families


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("HEAD", "/metrics", {}),
        ("POST", "/metrics", {}),
        ("GET", "/metrics", {"host": "10.1.2.3"}),
        ("GET", "/metricsx", {}),
        ("GET", "/metrics/", {}),
    ],
)
async def test_other_requests_pass_to_django(method, path, headers):
    response = await fetch(MetricsEndpoint(django_stand_in), path, method, **headers)

    assert response["status"] == 418


@pytest.mark.django_db
async def test_rejections_come_from_django():
    unknown_host = await fetch(application, "/metrics", host="10.1.2.3")
    head = await fetch(application, "/metrics", "HEAD")

    assert unknown_host["status"] == 400
    assert head["status"] == 405


async def test_token_checked_before_the_fast_path():
    with override_settings(CLUSTERDASH_METRICS_TOKEN="s3cret"):
        endpoint = MetricsEndpoint(django_stand_in)
        missing = await fetch(endpoint, "/metrics")
        wrong = await fetch(endpoint, "/metrics", authorization="Bearer nope")
        right = await fetch(endpoint, "/metrics", authorization="Bearer s3cret")
        rejected = await fetch(application, "/metrics", authorization="Bearer x")

    assert missing["status"] == 418
    assert wrong["status"] == 418
    assert right["status"] == 200
    assert rejected["status"] == 401
    assert headers_of(rejected)["www-authenticate"] == 'Bearer realm="metrics"'


async def test_prefixed_scrape_paths():
    with override_settings(URL_PREFIX="/team-a/dask"):
        prefixed = MetricsEndpoint(django_stand_in)
    plain = MetricsEndpoint(django_stand_in)

    for path in ("/metrics", "/team-a/dask/metrics", "/team-a/dask/metrics/workers"):
        assert (await fetch(prefixed, path))["status"] == 200
    assert (await fetch(plain, "/team-a/dask/metrics"))["status"] == 418
