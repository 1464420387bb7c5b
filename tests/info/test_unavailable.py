"""Pages when the scheduler cannot be reached: 503 naming it, never 500."""

from __future__ import annotations

import logging
import socket

import pytest
from django.test import override_settings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_scheduler(backend_on_cluster):
    """Point the site's backend at a port where nothing listens."""
    address = f"tcp://127.0.0.1:{_closed_port()}"
    setting = {
        "BACKEND": "clusterdash.backends.dask.DaskBackend",
        "OPTIONS": {"address": address, "timeout": 0.5, "poll_interval": 0.2},
    }
    with override_settings(CLUSTERDASH_BACKEND=setting):
        yield address


@pytest.mark.parametrize(
    "path",
    [
        "/info/main/workers.html",
        "/info/main/exceptions.html",
        "/info/main/logs.html",
        "/info/worker/tcp%3A%2F%2F127.0.0.1%3A1.html",
        "/info/task/some-key.html",
        "/json/counts.json",
        "/json/identity.json",
    ],
)
def test_pages_answer_503_naming_scheduler(staff_client, dead_scheduler, path):
    response = staff_client.get(path)

    assert response.status_code == 503
    assert dead_scheduler.encode() in response.content
    assert b"Scheduler unavailable" in response.content


def test_health_stays_ok_without_scheduler(client, dead_scheduler):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.content == b"ok"


def test_unavailable_scheduler_logs_warning(staff_client, dead_scheduler, caplog):
    with caplog.at_level(logging.WARNING, logger="clusterdash.middleware"):
        staff_client.get("/info/main/workers.html")

    messages = [
        r.getMessage() for r in caplog.records if r.name == "clusterdash.middleware"
    ]
    assert len(messages) == 1
    assert dead_scheduler in messages[0]
