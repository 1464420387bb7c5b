"""
Scheduler host and transfer plots, fetched on demand.

The panels call the backend through the shared fetch cache, so every
session of the process shares one scheduler call per interval.
"""

from __future__ import annotations

from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    FactorRange,
    HoverTool,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.plotting import figure

from clusterdash.backends.types import Snapshot

from .panels import (
    BLUE,
    PALETTE,
    SHARED,
    VERMILION,
    Panel,
    format_bytes,
)

#: Samples the scheduler system plots keep.
SYSTEM_HISTORY = 1000


class SchedulerSystem(Panel):
    """CPU, memory, network and file descriptors of the scheduler process."""

    name = "scheduler-system"
    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.last_time = 0.0
        self.samples: dict = {}
        self.source = ColumnDataSource(
            {"time": [], "cpu": [], "memory": [], "read": [], "write": [], "fds": []}
        )
        common = {
            "x_axis_type": "datetime",
            "height": 200,
            "sizing_mode": "stretch_width",
            "tools": "",
            "toolbar_location": None,
        }
        cpu = figure(title="CPU use (%)", y_range=Range1d(0, 100), **common)
        cpu.line("time", "cpu", source=self.source, color=BLUE)
        memory = figure(title="Memory", **common)
        memory.line("time", "memory", source=self.source, color=BLUE)
        memory.yaxis.formatter = NumeralTickFormatter(format="0.0 b")
        network = figure(title="Network (bytes/s)", **common)
        network.line(
            "time", "read", source=self.source, color=BLUE, legend_label="read"
        )
        network.line(
            "time", "write", source=self.source, color=VERMILION, legend_label="write"
        )
        network.yaxis.formatter = NumeralTickFormatter(format="0.0 b")
        fds = figure(title="File descriptors", **common)
        fds.line("time", "fds", source=self.source, color=BLUE)
        self.figures = {"cpu": cpu, "memory": memory, "network": network, "fds": fds}
        self.body = column(
            row(cpu, memory, sizing_mode="stretch_width"),
            row(network, fds, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    async def fetch(self) -> None:
        answer = await SHARED.get("scheduler_system", 0)
        self.samples = answer["samples"]

    def update(self, snapshot: Snapshot) -> None:
        samples = self.samples
        times = samples.get("time", [])
        new = [i for i, t in enumerate(times) if t > self.last_time]
        if not new:
            self.say(None if self.source.data["time"] else "No samples yet.")
            return

        def column_of(field: str) -> list[float]:
            values = samples.get(field)
            return [values[i] for i in new] if values else [float("nan")] * len(new)

        self.source.stream(
            {
                "time": [times[i] * 1000 for i in new],
                "cpu": column_of("cpu"),
                "memory": column_of("memory"),
                "read": column_of("host_net_io.read_bps"),
                "write": column_of("host_net_io.write_bps"),
                "fds": column_of("num_fds"),
            },
            rollover=SYSTEM_HISTORY,
        )
        self.last_time = times[new[-1]]
        self.say(None)
        cpu = self.source.data["cpu"]
        self.figures["cpu"].y_range.end = max([100.0, *cpu]) * 1.05
        latest = len(cpu) - 1
        self.figures["cpu"].title.text = f"CPU use (%): {cpu[latest]:.1f}"
        memory = self.source.data["memory"][latest]
        self.figures["memory"].title.text = f"Memory: {format_bytes(memory)}"
        fds = self.source.data["fds"][latest]
        self.figures["fds"].title.text = f"File descriptors: {fds:.0f}"


class BandwidthTypes(Panel):
    """Measured transfer bandwidth by data type."""

    name = "bandwidth-types"
    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict = {}
        self.source = ColumnDataSource({"type": [], "bandwidth": [], "text": []})
        self.figure = figure(
            title="Bandwidth by type",
            y_range=FactorRange(),
            x_range=Range1d(0, 1),
            height=300,
            sizing_mode="stretch_width",
            tools="",
            toolbar_location=None,
        )
        self.figure.hbar(
            y="type", right="bandwidth", height=0.8, color=BLUE, source=self.source
        )
        self.figure.add_tools(
            HoverTool(tooltips=[("Type", "@type"), ("Bandwidth", "@text/s")])
        )
        self.figure.xaxis.formatter = NumeralTickFormatter(format="0.0 b")
        self.body = self.figure

    async def fetch(self) -> None:
        self.answer = await SHARED.get("bandwidth")

    def update(self, snapshot: Snapshot) -> None:
        types = sorted(self.answer.get("types", {}).items(), key=lambda kv: kv[1])
        self.say(
            None if types else "No transfers between workers have been measured yet."
        )
        self.source.data = {
            "type": [name for name, _ in types],
            "bandwidth": [value for _, value in types],
            "text": [format_bytes(value) for _, value in types],
        }
        factors = [name for name, _ in types]
        if list(self.figure.y_range.factors) != factors:
            self.figure.y_range.factors = factors
        self.figure.x_range.end = max([v for _, v in types] + [1.0]) * 1.05
        total = self.answer.get("total", 0.0)
        self.figure.title.text = f"Bandwidth: {format_bytes(total)}/s"


class BandwidthWorkers(Panel):
    """Measured bandwidth between each pair of workers, as a heat map."""

    name = "bandwidth-workers"
    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict = {}
        self.source = ColumnDataSource(
            {"source": [], "destination": [], "bandwidth": [], "text": [], "color": []}
        )
        self.figure = figure(
            title="Bandwidth between workers",
            x_range=FactorRange(),
            y_range=FactorRange(),
            height=400,
            sizing_mode="stretch_width",
            tools="",
            toolbar_location=None,
        )
        self.figure.rect(
            x="destination",
            y="source",
            width=1,
            height=1,
            color="color",
            source=self.source,
        )
        self.figure.add_tools(
            HoverTool(
                tooltips=[
                    ("From", "@source"),
                    ("To", "@destination"),
                    ("Bandwidth", "@text/s"),
                ]
            )
        )
        self.figure.xaxis.major_label_orientation = 0.8
        self.body = self.figure

    async def fetch(self) -> None:
        self.answer = await SHARED.get("bandwidth")

    def update(self, snapshot: Snapshot) -> None:
        pairs = self.answer.get("workers", [])
        names = self.answer.get("names", {})
        self.say(
            None if pairs else "No transfers between workers have been measured yet."
        )
        largest = max((value for _, _, value in pairs), default=1.0) or 1.0
        shades = PALETTE[1:4]
        data: dict[str, list] = {name: [] for name in self.source.data}
        labels = set()
        for source, destination, value in pairs:
            src = names.get(source, source)
            dst = names.get(destination, destination)
            labels.update((src, dst))
            data["source"].append(src)
            data["destination"].append(dst)
            data["bandwidth"].append(value)
            data["text"].append(format_bytes(value))
            data["color"].append(shades[min(int(value / largest * 3), 2)])
        self.source.data = data
        factors = sorted(labels)
        if list(self.figure.x_range.factors) != factors:
            self.figure.x_range.factors = factors
            self.figure.y_range.factors = factors
