"""The ``/json`` endpoints: Dask's fields and encoding."""

from __future__ import annotations

import json

from clusterdash.backends.types import COUNT_FIELDS

from .conftest import parse_html


def _inc(x):
    return x + 1


def test_counts_have_dask_field_order(viewer_client, wait_for_snapshot):
    wait_for_snapshot(lambda s: len(s.workers) == 2)

    response = viewer_client.get("/json/counts.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert list(json.loads(response.content)) == list(COUNT_FIELDS)
    assert b'"workers": 2' in response.content


def test_identity_stays_valid_after_tasks(
    viewer_client, dask_client, wait_for_snapshot
):
    dask_client.gather(dask_client.map(_inc, range(20)))

    for _ in range(5):
        response = viewer_client.get("/json/identity.json")

        assert response.status_code == 200
        document = json.loads(response.content)
        assert document["type"] == "Scheduler"
        assert len(document["workers"]) == 2


def test_json_escapes_closing_tags(client, wait_for_snapshot):
    from info.views.json_views import json_response

    response = json_response({"key": "</script>"})

    assert response.content == b'{"key": "<\\/script>"}'


def test_json_index_links_both_endpoints(viewer_client):
    response = viewer_client.get("/json/index.html")

    links = [href for href, _ in parse_html(response.content).links]
    assert response.status_code == 200
    assert "/json/counts.json" in links
    assert "/json/identity.json" in links


def _scheduler_identity(dask_scheduler=None):
    return dask_scheduler.identity()


def test_identity_workers_match_dask(viewer_client, dask_client, wait_for_snapshot):
    wait_for_snapshot(lambda s: len(s.workers) == 2)
    expected = dask_client.run_on_scheduler(_scheduler_identity)

    document = json.loads(viewer_client.get("/json/identity.json").content)

    assert list(document["workers"]) == list(expected["workers"])
    for address, worker in expected["workers"].items():
        ours = document["workers"][address]
        assert set(ours) == set(worker), address
        # Heartbeats move these between the two reads.
        for field in set(worker) - {"metrics", "last_seen"}:
            assert ours[field] == json.loads(json.dumps(worker[field])), field
        assert set(ours["metrics"]) == set(worker["metrics"]), address
