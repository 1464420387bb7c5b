"""
Host network, disk, CPU and memory of the workers, and their RMM pools.

Every number comes from the worker metrics in the shared snapshot. The
time series are kept in this process, so a new session starts with the
history that earlier sessions recorded.
"""

from __future__ import annotations

import math
from collections import deque

from bokeh.models import (
    ColumnDataSource,
    HoverTool,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.plotting import figure
from bokeh.transform import dodge

from clusterdash.backends.types import Snapshot, WorkerSummary

from .panels import BLUE, GREY, ORANGE, Panel, format_bytes
from .worker_plots import (
    NO_WORKERS,
    MemorySegments,
    _set_factors,
    _worker_figure,
    memory_colour,
)

#: Smallest end of the bandwidth axis, in bytes/s, so idle hosts do not
#: fill the plot with noise (Dask uses the same 100 MB/s floor).
MIN_BANDWIDTH_AXIS = 100e6

#: Share of the gap to the current maximum by which a shrinking axis moves
#: per update, so the axis decays slowly instead of jumping.
AXIS_DECAY = 0.1

#: Points each time series keeps, in this process and in each session.
TIMESERIES_LENGTH = 1000


def _number(metrics: dict, group: str, field: str) -> float:
    values = metrics.get(group)
    if not isinstance(values, dict):
        return 0.0
    try:
        value = float(values.get(field) or 0)
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


class HostIOBars(Panel):
    """Read and write bytes/s of each worker's host, side by side."""

    interval = 0.5
    #: Worker metric with ``read_bps`` and ``write_bps``.
    metric = ""
    title = ""

    def __init__(self) -> None:
        super().__init__()
        self.source = ColumnDataSource(
            {"worker": [], "name": [], "read": [], "write": [], "text": []}
        )
        self.figure = _worker_figure(
            self.title,
            [("Worker", "@name"), ("Read / write", "@text")],
            x_range=Range1d(0, MIN_BANDWIDTH_AXIS),
        )
        for field, offset, colour in (("read", -0.2, BLUE), ("write", 0.2, ORANGE)):
            self.figure.hbar(
                y=dodge("worker", offset, range=self.figure.y_range),
                right=field,
                height=0.35,
                color=colour,
                legend_label=field,
                source=self.source,
            )
        self.figure.xaxis.formatter = NumeralTickFormatter(format="0.0 b")
        self.figure.xaxis.axis_label = "bytes/s"
        self.body = self.figure

    def update(self, snapshot: Snapshot) -> None:
        workers = snapshot.workers
        self.say(None if workers else NO_WORKERS)
        read = [_number(w.metrics, self.metric, "read_bps") for w in workers]
        write = [_number(w.metrics, self.metric, "write_bps") for w in workers]
        self.source.data = {
            "worker": [w.address for w in workers],
            "name": [str(w.name) for w in workers],
            "read": read,
            "write": write,
            "text": [
                f"{format_bytes(r)}/s / {format_bytes(w)}/s"
                for r, w in zip(read, write, strict=True)
            ],
        }
        _set_factors(self.figure, [w.address for w in workers])
        wanted = max([MIN_BANDWIDTH_AXIS, *read, *write])
        end = self.figure.x_range.end
        if wanted >= end:
            self.figure.x_range.end = wanted
        else:
            self.figure.x_range.end = end - (end - wanted) * AXIS_DECAY


class NetworkBars(HostIOBars):
    """Host network bandwidth per worker."""

    name = "workers-network"
    metric = "host_net_io"
    title = "Worker network bandwidth"


class DiskBars(HostIOBars):
    """Host disk bandwidth per worker."""

    name = "workers-disk"
    metric = "host_disk_io"
    title = "Worker disk bandwidth"


def _means(snapshot: Snapshot) -> dict[str, float]:
    workers = snapshot.workers
    count = len(workers) or 1

    def mean(values) -> float:
        return sum(values) / count

    return {
        "time": snapshot.taken_at * 1000,
        "net_read": mean(
            _number(w.metrics, "host_net_io", "read_bps") for w in workers
        ),
        "net_write": mean(
            _number(w.metrics, "host_net_io", "write_bps") for w in workers
        ),
        "disk_read": mean(
            _number(w.metrics, "host_disk_io", "read_bps") for w in workers
        ),
        "disk_write": mean(
            _number(w.metrics, "host_disk_io", "write_bps") for w in workers
        ),
        "cpu": mean(w.cpu for w in workers),
        "memory": mean(w.memory for w in workers),
    }


class WorkerHistory:
    """Means over the workers of each snapshot, newest last, bounded."""

    def __init__(self, length: int) -> None:
        self.points: deque[dict[str, float]] = deque(maxlen=length)

    def record(self, snapshot: Snapshot) -> None:
        """Append the means of ``snapshot`` unless it was recorded already."""
        if not snapshot.workers:
            return
        point = _means(snapshot)
        if self.points and point["time"] <= self.points[-1]["time"]:
            return
        self.points.append(point)

    def since(self, time_ms: float) -> list[dict[str, float]]:
        """Return the points recorded after ``time_ms``, oldest first."""
        return [point for point in self.points if point["time"] > time_ms]


#: The process-wide history that every time-series session reads.
# NOTE: points are recorded only while some session shows a time series,
# because the ticks of open sessions are what record them.
HISTORY = WorkerHistory(TIMESERIES_LENGTH)


class WorkerTimeseries(Panel):
    """Means over the workers of one or two metrics, over time."""

    interval = 0.5
    title = ""
    #: (history field, legend label, colour) of each line.
    lines: tuple[tuple[str, str, str], ...] = ()
    byte_axis = True

    def __init__(self) -> None:
        super().__init__()
        self.last_time = 0.0
        fields = ["time"] + [field for field, _, _ in self.lines]
        self.source = ColumnDataSource({field: [] for field in fields})
        self.figure = figure(
            title=self.title,
            x_axis_type="datetime",
            height=250,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="above",
        )
        for field, label, colour in self.lines:
            self.figure.line(
                "time", field, source=self.source, color=colour, legend_label=label
            )
        tooltips = [(label, f"@{field}{{0.00 b}}") for field, label, _ in self.lines]
        if not self.byte_axis:
            tooltips = [(label, f"@{field}{{0.0}}") for field, label, _ in self.lines]
        self.figure.add_tools(HoverTool(tooltips=tooltips, mode="vline"))
        if self.byte_axis:
            self.figure.yaxis.formatter = NumeralTickFormatter(format="0.0 b")
        self.figure.legend.location = "top_left"
        self.body = self.figure

    def update(self, snapshot: Snapshot) -> None:
        HISTORY.record(snapshot)
        points = HISTORY.since(self.last_time)
        if points:
            fields = list(self.source.data)
            self.source.stream(
                {field: [point[field] for point in points] for field in fields},
                rollover=TIMESERIES_LENGTH,
            )
            self.last_time = points[-1]["time"]
        self.say(None if self.source.data["time"] else NO_WORKERS)


class NetworkTimeseries(WorkerTimeseries):
    """Mean host network read and write bytes/s per worker."""

    name = "workers-network-timeseries"
    title = "Worker network bandwidth (mean per worker)"
    lines = (("net_read", "read", BLUE), ("net_write", "write", ORANGE))


class DiskTimeseries(WorkerTimeseries):
    """Mean host disk read and write bytes/s per worker."""

    name = "workers-disk-timeseries"
    title = "Worker disk bandwidth (mean per worker)"
    lines = (("disk_read", "read", BLUE), ("disk_write", "write", ORANGE))


class CPUTimeseries(WorkerTimeseries):
    """Mean CPU use per worker, in percent of one core."""

    name = "workers-cpu-timeseries"
    title = "Worker CPU use (%, mean per worker)"
    lines = (("cpu", "CPU %", BLUE),)
    byte_axis = False


class MemoryTimeseries(WorkerTimeseries):
    """Mean resident memory per worker."""

    name = "workers-memory-timeseries"
    title = "Worker memory (mean per worker)"
    lines = (("memory", "memory", BLUE),)


def _rmm_segments(worker: WorkerSummary) -> list:
    metrics = worker.metrics
    rmm_used = _number(metrics, "rmm", "rmm-used")
    rmm_total = _number(metrics, "rmm", "rmm-total")
    gpu_used = _number(metrics, "gpu", "memory-used")
    spilled = _number(metrics, "cudf", "cudf-spilled")
    return [
        ("RMM memory used", rmm_used, None, 1.0),
        ("RMM memory free", max(rmm_total - rmm_used, 0.0), None, 0.4),
        ("non-RMM GPU memory", max(gpu_used - rmm_total, 0.0), None, 0.7),
        ("spilled to host", spilled, GREY, 1.0),
    ]


def _has_rmm(worker: WorkerSummary) -> bool:
    return isinstance(worker.metrics.get("rmm"), dict)


class RMMMemory(MemorySegments):
    """RMM pool, other GPU memory and cuDF spilling per worker."""

    name = "rmm-memory"

    def __init__(self) -> None:
        super().__init__("RMM memory per worker")

    def update(self, snapshot: Snapshot) -> None:
        workers = [w for w in snapshot.workers if _has_rmm(w)]
        if not workers:
            self.fill([])
            self.say(
                "RMM is not in use: no worker reports RMM metrics (start the "
                "workers with rmm and dask-cuda to see this plot)."
            )
            return
        self.say(None)
        rows = [
            (w.address, str(w.name), memory_colour(w), _rmm_segments(w))
            for w in workers
        ]
        end = self.fill(rows)
        _set_factors(self.figure, [w.address for w in workers])
        limits = []
        for worker in workers:
            gpu = worker.metrics.get("gpu")
            total = _number({"gpu": gpu}, "gpu", "memory-total") if gpu else 0.0
            limits.append(total)
        self.figure.x_range.end = max([*limits, end, 1.0])
        used = sum(_number(w.metrics, "rmm", "rmm-used") for w in workers)
        self.figure.title.text = f"RMM memory used: {format_bytes(used)}"
