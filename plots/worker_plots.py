"""
Per-worker bar charts and the workers table, drawn from the shared snapshot.
"""

from __future__ import annotations

from bokeh.models import (
    ColumnDataSource,
    FactorRange,
    HoverTool,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.plotting import figure
from bokeh.transform import dodge

from clusterdash.backends.types import Snapshot, WorkerSummary

from .panels import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    VERMILION,
    Panel,
    format_bytes,
    update_source,
)

#: Fractions of the memory limit at which Dask's defaults turn a worker's
#: bar orange (target 0.6 < spill 0.7) and red (terminate 0.95).
ORANGE_FRACTION = 0.6
RED_FRACTION = 0.95

NO_WORKERS = "No workers are connected to the scheduler."


def memory_colour(worker: WorkerSummary) -> str:
    """Return the bar colour for a worker's memory, as Dask's rule has it."""
    if worker.status != "running":
        return VERMILION
    if not worker.memory_limit:
        return BLUE
    if worker.memory >= worker.memory_limit * RED_FRACTION:
        return VERMILION
    if worker.memory >= worker.memory_limit * ORANGE_FRACTION:
        return ORANGE
    return BLUE


def load_colour(worker: WorkerSummary) -> str:
    """Return the bar colour for load: idle, saturated or in between."""
    if worker.idle:
        return VERMILION
    if worker.saturated:
        return GREEN
    return BLUE


def _worker_figure(title: str, tooltips: list[tuple[str, str]], **kwargs) -> figure:
    fig = figure(
        title=title,
        y_range=FactorRange(),
        height=kwargs.pop("height", 220),
        sizing_mode="stretch_width",
        toolbar_location=None,
        tools="",
        **kwargs,
    )
    fig.add_tools(HoverTool(tooltips=tooltips))
    fig.ygrid.grid_line_color = None
    return fig


def _set_factors(fig: figure, factors: list) -> None:
    if list(fig.y_range.factors) != factors:
        fig.y_range.factors = factors


class WorkerBars(Panel):
    """One horizontal bar per worker for a single number."""

    name = "worker-bars"
    interval = 0.5
    title = ""
    x_label = ""
    tooltip_format = "{0,0.0}"

    def __init__(self) -> None:
        super().__init__()
        self.source = ColumnDataSource(
            {"worker": [], "name": [], "value": [], "color": []}
        )
        self.figure = _worker_figure(
            self.title,
            [
                ("Worker", "@name"),
                ("Address", "@worker"),
                (self.x_label, "@value" + self.tooltip_format),
            ],
            x_range=Range1d(0, 1),
        )
        self.figure.hbar(
            y="worker",
            right="value",
            height=0.8,
            color="color",
            source=self.source,
        )
        self.figure.xaxis.axis_label = self.x_label
        self.body = self.figure

    def value(self, worker: WorkerSummary) -> float:
        raise NotImplementedError

    def colour(self, worker: WorkerSummary) -> str:
        return BLUE

    def x_end(self, snapshot: Snapshot, values: list[float]) -> float:
        return max(values + [1.0]) * 1.1

    def update(self, snapshot: Snapshot) -> None:
        workers = snapshot.workers
        self.say(None if workers else NO_WORKERS)
        values = [float(self.value(w)) for w in workers]
        update_source(
            self.source,
            {
                "worker": [w.address for w in workers],
                "name": [str(w.name) for w in workers],
                "value": values,
                "color": [self.colour(w) for w in workers],
            },
        )
        _set_factors(self.figure, [w.address for w in workers])
        self.figure.x_range.end = self.x_end(snapshot, values)
        self.retitle(snapshot, values)

    def retitle(self, snapshot: Snapshot, values: list[float]) -> None:
        pass


class CPUBars(WorkerBars):
    """CPU use per worker, in percent of one core."""

    name = "cpu"
    interval = 0.2
    title = "CPU use (%)"
    x_label = "CPU %"

    def value(self, worker: WorkerSummary) -> float:
        return worker.cpu

    def x_end(self, snapshot: Snapshot, values: list[float]) -> float:
        threads = max((w.nthreads for w in snapshot.workers), default=1)
        return max([100.0 * threads] + values)


class ProcessingBars(WorkerBars):
    """Tasks assigned to each worker; red idle, green saturated."""

    name = "nprocessing"
    interval = 0.2
    title = "Tasks processing"
    x_label = "Tasks"
    tooltip_format = "{0,0}"

    def value(self, worker: WorkerSummary) -> float:
        return worker.processing

    def colour(self, worker: WorkerSummary) -> str:
        return load_colour(worker)

    def retitle(self, snapshot: Snapshot, values: list[float]) -> None:
        self.figure.title.text = f"Tasks processing (total: {int(sum(values))})"


class OccupancyBars(WorkerBars):
    """Expected seconds of queued work per worker."""

    name = "occupancy"
    interval = 0.2
    title = "Occupancy"
    x_label = "Seconds"
    tooltip_format = "{0,0.00}"

    def value(self, worker: WorkerSummary) -> float:
        return worker.occupancy

    def colour(self, worker: WorkerSummary) -> str:
        return load_colour(worker)

    def retitle(self, snapshot: Snapshot, values: list[float]) -> None:
        total = sum(values)
        threads = max(snapshot.total_threads, 1)
        self.figure.title.text = (
            f"Occupancy: {total:.1f} s total, {total / threads:.1f} s wall time"
        )


class MemorySegments(Panel):
    """Managed, unmanaged and spilled bytes as stacked bars."""

    interval = 0.2

    def __init__(self, title: str, height: int = 220) -> None:
        super().__init__()
        self.source = ColumnDataSource(
            {
                "worker": [],
                "name": [],
                "segment": [],
                "left": [],
                "right": [],
                "bytes": [],
                "text": [],
                "color": [],
                "alpha": [],
            }
        )
        self.figure = _worker_figure(
            title,
            [("Worker", "@name"), ("Kind", "@segment"), ("Bytes", "@text")],
            x_range=Range1d(0, 1),
            height=height,
        )
        self.figure.hbar(
            y="worker",
            left="left",
            right="right",
            height=0.8,
            color="color",
            alpha="alpha",
            source=self.source,
        )
        self.figure.xaxis.formatter = NumeralTickFormatter(format="0.0 b")
        self.body = self.figure

    def fill(self, rows: list[tuple[str, str, str, list]]) -> float:
        """
        Draw ``rows`` of (factor, label, colour, segments); return the end.

        Every segment keeps its row, an empty one drawn fully transparent,
        so the rows of a worker stay in place and an update patches only the
        workers whose bytes changed.
        """
        data: dict[str, list] = {name: [] for name in self.source.data}
        end = 0.0
        for factor, label, colour, segments in rows:
            left = 0.0
            for segment, nbytes, segment_colour, alpha in segments:
                nbytes = max(nbytes, 0)
                data["worker"].append(factor)
                data["name"].append(label)
                data["segment"].append(segment)
                data["left"].append(left)
                data["right"].append(left + nbytes)
                data["bytes"].append(nbytes)
                data["text"].append(format_bytes(nbytes))
                data["color"].append(segment_colour or colour)
                data["alpha"].append(alpha if nbytes else 0.0)
                left += nbytes
            end = max(end, left)
        update_source(self.source, data)
        return end


def _segments(managed: int, memory: int, spilled: int) -> list:
    unmanaged = max(memory - managed, 0)
    return [
        ("managed", managed, None, 1.0),
        ("unmanaged", unmanaged, None, 0.6),
        ("spilled to disk", spilled, GREY, 1.0),
    ]


class ClusterMemory(MemorySegments):
    """Bytes stored on the whole cluster, in one stacked bar."""

    name = "cluster-memory"

    def __init__(self) -> None:
        super().__init__("Bytes stored", height=120)
        _set_factors(self.figure, ["cluster"])

    def update(self, snapshot: Snapshot) -> None:
        workers = snapshot.workers
        self.say(None if workers else NO_WORKERS)
        managed = sum(w.managed_bytes for w in workers)
        memory = sum(w.memory for w in workers)
        spilled = sum(w.spilled_bytes for w in workers)
        colours = {memory_colour(w) for w in workers}
        colour = next((c for c in (VERMILION, ORANGE) if c in colours), BLUE)
        end = self.fill(
            [("cluster", "cluster", colour, _segments(managed, memory, spilled))]
        )
        limit = sum(w.memory_limit for w in workers)
        self.figure.x_range.end = max(limit, end, 1)
        title = f"Bytes stored: {format_bytes(memory)}"
        if spilled:
            title += f" + {format_bytes(spilled)} spilled to disk"
        self.figure.title.text = title


class WorkersMemory(MemorySegments):
    """Bytes stored on each worker."""

    name = "workers-memory"

    def __init__(self) -> None:
        super().__init__("Bytes stored per worker")

    def update(self, snapshot: Snapshot) -> None:
        workers = snapshot.workers
        self.say(None if workers else NO_WORKERS)
        rows = [
            (
                w.address,
                str(w.name),
                memory_colour(w),
                _segments(w.managed_bytes, w.memory, w.spilled_bytes),
            )
            for w in workers
        ]
        end = self.fill(rows)
        _set_factors(self.figure, [w.address for w in workers])
        limit = max((w.memory_limit for w in workers), default=0)
        self.figure.x_range.end = max(limit, end, 1)


class TransferBytes(Panel):
    """Bytes each worker is receiving (red) and sending (blue) right now."""

    name = "workers-transfer-bytes"
    interval = 0.2

    def __init__(self) -> None:
        super().__init__()
        self.source = ColumnDataSource(
            {
                "worker": [],
                "name": [],
                "incoming": [],
                "outgoing": [],
                "incoming_text": [],
                "outgoing_text": [],
            }
        )
        self.figure = _worker_figure(
            "Bytes transferring",
            [
                ("Worker", "@name"),
                ("Incoming", "@incoming_text"),
                ("Outgoing", "@outgoing_text"),
            ],
            x_range=Range1d(0, 1),
        )
        for field, offset, colour in (
            ("incoming", -0.2, VERMILION),
            ("outgoing", 0.2, BLUE),
        ):
            self.figure.hbar(
                y=dodge("worker", offset, range=self.figure.y_range),
                right=field,
                height=0.35,
                color=colour,
                legend_label=field,
                source=self.source,
            )
        self.figure.xaxis.formatter = NumeralTickFormatter(format="0.0 b")
        self.body = self.figure

    def update(self, snapshot: Snapshot) -> None:
        workers = snapshot.workers
        self.say(None if workers else NO_WORKERS)
        incoming = []
        outgoing = []
        for worker in workers:
            transfer = worker.metrics.get("transfer") or {}
            incoming.append(float(transfer.get("incoming_bytes") or 0))
            outgoing.append(float(transfer.get("outgoing_bytes") or 0))
        update_source(
            self.source,
            {
                "worker": [w.address for w in workers],
                "name": [str(w.name) for w in workers],
                "incoming": incoming,
                "outgoing": outgoing,
                "incoming_text": [format_bytes(n) for n in incoming],
                "outgoing_text": [format_bytes(n) for n in outgoing],
            },
        )
        _set_factors(self.figure, [w.address for w in workers])
        self.figure.title.text = f"Bytes transferring: {format_bytes(sum(incoming))}"
        limit = max((w.memory_limit for w in workers), default=0)
        self.figure.x_range.end = max(incoming + outgoing + [limit, 1])
