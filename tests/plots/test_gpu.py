"""GPU plots on a host without a GPU, with and without nvidia-ml-py."""

from __future__ import annotations

import logging
import sys

import pytest

from plots import gpu_plots
from plots.catalog import INDIVIDUAL

pytestmark = pytest.mark.django_db(transaction=True)

GPU_PATHS = ("/gpu", "/individual-gpu-utilization", "/individual-gpu-memory")


@pytest.fixture
def fresh_gpu_probe():
    """Forget the cached NVML probe before and after the test."""
    gpu_plots.local_gpu_count.cache_clear()
    yield
    gpu_plots.local_gpu_count.cache_clear()


@pytest.fixture
def without_nvml(monkeypatch, fresh_gpu_probe):
    """Make ``import pynvml`` fail, as on a host without nvidia-ml-py."""
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, "pynvml", None)


def _no_worker_gpus(snapshot) -> bool:
    return not any(w.metrics.get("gpu") for w in snapshot.workers)


async def _check_gpu_pages(client, caplog, wait_for_snapshot) -> list[str]:
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    if not _no_worker_gpus(snapshot):
        pytest.skip("the workers report GPUs")
    caplog.set_level(logging.INFO)
    for path in GPU_PATHS:
        response = await client.get(path)
        assert response.status_code == 200, path
    plots = (await client.get("/individual-plots.json")).json()
    assert plots["Individual Gpu Memory"] == "/individual-gpu-memory"
    assert plots["Individual Gpu Utilization"] == "/individual-gpu-utilization"
    notices = []
    for name in ("gpu-memory", "gpu-utilization"):
        panel = INDIVIDUAL[name][1]()
        for _ in range(3):
            await panel.refresh(snapshot, None)
        assert panel.notice.visible, name
        assert not panel._failing, panel.notice.text
        notices.append(panel.notice.text)
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert tracebacks == []
    return notices


async def test_gpu_pages_without_driver(
    viewer_async_client, backend, fresh_gpu_probe, caplog, wait_for_snapshot
):
    pytest.importorskip("pynvml")
    if gpu_plots.local_gpu_count():
        pytest.skip("this host has a GPU")
    notices = await _check_gpu_pages(viewer_async_client, caplog, wait_for_snapshot)
    for text in notices:
        assert text.startswith("No GPU was found"), text
        assert "NVML found no GPU driver or device" in text


async def test_gpu_pages_without_package(
    viewer_async_client, backend, without_nvml, caplog, wait_for_snapshot
):
    assert gpu_plots.local_gpu_count() is None
    notices = await _check_gpu_pages(viewer_async_client, caplog, wait_for_snapshot)
    for text in notices:
        assert text.startswith("No GPU was found"), text
        assert "nvidia-ml-py is not installed" in text
