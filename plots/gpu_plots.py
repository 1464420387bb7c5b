"""
GPU memory and utilisation per worker.

Workers started with NVML report ``metrics["gpu"]`` in their heartbeats.
When no worker does, the plot shows that no GPU was found; NVML is probed
in this process too, so the notice can say whether a driver is present.
"""

from __future__ import annotations

import functools
import logging

from clusterdash.backends.types import Snapshot, WorkerSummary

from .panels import format_bytes
from .worker_plots import WorkerBars

logger = logging.getLogger(__name__)


@functools.cache
def local_gpu_count() -> int | None:
    """
    Return the number of GPUs NVML finds on this host.

    Returns None when ``pynvml`` (from nvidia-ml-py) is not installed and 0
    when NVML or its driver is missing. The answer is cached, because a
    missing driver does not appear while the process runs.
    """
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        logger.info("NVML is not available on this host: %s", exc)
        return 0
    try:
        return int(pynvml.nvmlDeviceGetCount())
    except pynvml.NVMLError as exc:
        logger.info("NVML cannot count GPUs on this host: %s", exc)
        return 0
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass


def no_gpu_notice() -> str:
    """Return the words shown when no worker reports GPU metrics."""
    count = local_gpu_count()
    if count is None:
        detail = "nvidia-ml-py is not installed on the dashboard host"
    elif count == 0:
        detail = "NVML found no GPU driver or device on the dashboard host"
    else:
        detail = f"the dashboard host has {count} GPU(s), but no worker reports one"
    return f"No GPU was found: no worker reports GPU metrics ({detail})."


def _gpu_metrics(worker: WorkerSummary) -> dict:
    gpu = worker.metrics.get("gpu")
    return gpu if isinstance(gpu, dict) else {}


class GPUBars(WorkerBars):
    """A GPU number per worker that reports GPU metrics."""

    interval = 0.2

    def update(self, snapshot: Snapshot) -> None:
        super().update(snapshot)
        if snapshot.workers and not any(_gpu_metrics(w) for w in snapshot.workers):
            self.say(no_gpu_notice())
        elif not snapshot.workers:
            self.say(no_gpu_notice())


class GPUUtilization(GPUBars):
    """GPU utilisation per worker, in percent."""

    name = "gpu-utilization"
    title = "GPU utilization (%)"
    x_label = "Utilization %"

    def value(self, worker: WorkerSummary) -> float:
        return float(_gpu_metrics(worker).get("utilization") or 0)

    def x_end(self, snapshot: Snapshot, values: list[float]) -> float:
        return 100.0


class GPUMemory(GPUBars):
    """GPU memory used per worker, in bytes."""

    name = "gpu-memory"
    title = "GPU memory"
    x_label = "Bytes"
    tooltip_format = "{0.0 b}"

    def value(self, worker: WorkerSummary) -> float:
        return float(_gpu_metrics(worker).get("memory-used") or 0)

    def retitle(self, snapshot: Snapshot, values: list[float]) -> None:
        self.figure.title.text = f"GPU memory: {format_bytes(sum(values))}"
