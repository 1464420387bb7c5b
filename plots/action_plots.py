"""
Where the cluster spends its time: per action, per task prefix over time,
per fine-grained activity, and in the event loops.

Aggregate time, contention and the fine metrics come from one backend call
per interval shared by every session. The group progress is computed in
this process from the snapshot's cumulative compute seconds per prefix.
"""

from __future__ import annotations

from collections import deque

from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    FactorRange,
    HoverTool,
    Range1d,
    Select,
)
from bokeh.plotting import figure

from clusterdash.backends.types import Snapshot

from .panels import SHARED, SKY, Panel, colour_for, shorten

#: Seconds per bin of the group progress plot, as in Dask.
GROUP_BIN_SECONDS = 1.0

#: Bins the group progress plot keeps.
GROUP_BINS = 180

#: Task prefixes the group progress plot draws at most, the busiest first.
GROUP_MAX_PREFIXES = 20


def _bar_figure(title: str, height: int = 260) -> figure:
    fig = figure(
        title=title,
        y_range=FactorRange(),
        x_range=Range1d(0, 1),
        height=height,
        sizing_mode="stretch_width",
        toolbar_location=None,
        tools="",
    )
    fig.ygrid.grid_line_color = None
    return fig


def _format_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


class NamedBars(Panel):
    """One horizontal bar per name, largest at the top."""

    def __init__(self, title: str, unit: str = "seconds") -> None:
        super().__init__()
        self.unit = unit
        self.source = ColumnDataSource(
            {"name": [], "value": [], "text": [], "color": []}
        )
        self.figure = _bar_figure(title)
        self.figure.hbar(
            y="name", right="value", height=0.8, color="color", source=self.source
        )
        self.figure.add_tools(
            HoverTool(tooltips=[("Name", "@name"), ("Value", "@text")])
        )
        self.body = self.figure

    def draw(self, totals: dict[str, float]) -> None:
        """Replace the bars with ``totals``."""
        items = sorted(totals.items(), key=lambda item: item[1])
        self.source.data = {
            "name": [shorten(name) for name, _ in items],
            "value": [value for _, value in items],
            "text": [self.format(value) for _, value in items],
            "color": [colour_for(name) for name, _ in items],
        }
        factors = self.source.data["name"]
        if list(self.figure.y_range.factors) != factors:
            self.figure.y_range.factors = factors
        self.figure.x_range.end = max([value for _, value in items] + [1e-9]) * 1.05

    def format(self, value: float) -> str:
        if self.unit == "seconds":
            return _format_seconds(value)
        return f"{value:,.6g} {self.unit}"


class AggregateAction(NamedBars):
    """Seconds spent on each action (compute, transfer, disk-read, ...)."""

    name = "aggregate-time-per-action"
    interval = 0.5

    def __init__(self) -> None:
        super().__init__("Aggregate time per action")
        self.durations: dict[str, float] = {}

    async def fetch(self) -> None:
        self.durations = await SHARED.get("action_durations")

    def update(self, snapshot: Snapshot) -> None:
        totals = {name: value for name, value in self.durations.items() if value > 0}
        self.say(None if totals else "No task has finished yet.")
        self.draw(totals)


class Contention(Panel):
    """Event-loop tick interval (and GIL contention) of scheduler and workers."""

    name = "contention"
    interval = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict = {}
        self.source = ColumnDataSource({"names": [], "values": [], "text": []})
        self.figure = figure(
            title="Event loop",
            x_range=FactorRange(),
            y_range=Range1d(0, 0.1),
            height=300,
            sizing_mode="stretch_width",
            toolbar_location=None,
            tools="",
        )
        self.figure.vbar(
            x="names", top="values", width=0.9, color=SKY, source=self.source
        )
        self.figure.add_tools(
            HoverTool(tooltips=[("Name", "@names"), ("Value", "@text")])
        )
        self.body = self.figure

    async def fetch(self) -> None:
        self.answer = await SHARED.get("contention")

    def update(self, snapshot: Snapshot) -> None:
        workers = snapshot.workers
        count = len(workers) or 1
        worker_loop = (
            sum(_float(w.metrics.get("event_loop_interval")) for w in workers) / count
        )
        names = [("Scheduler", "Event Loop"), ("Workers", "Event Loop")]
        values = [_float(self.answer.get("event_loop_interval")), worker_loop]
        texts = [_format_seconds(value) for value in values]
        gil = self.answer.get("gil")
        if gil is not None:
            worker_gil = (
                sum(_float(w.metrics.get("gil_contention")) for w in workers) / count
            )
            names[1:1] = [("Scheduler", "GIL")]
            names.append(("Workers", "GIL"))
            values[1:1] = [float(gil)]
            values.append(worker_gil)
            texts = [
                f"{value * 100:.1f}%" if name[1] == "GIL" else _format_seconds(value)
                for name, value in zip(names, values, strict=True)
            ]
        self.figure.title.text = (
            "Event Loop & GIL Contention" if gil is not None else "Event loop"
        )
        if list(self.figure.x_range.factors) != names:
            self.figure.x_range.factors = names
        self.source.data = {"names": names, "values": values, "text": texts}
        self.figure.y_range.end = max([*values, 0.1]) * 1.1
        self.say(None if workers else "No workers are connected to the scheduler.")


def _float(value) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


class FinePerformanceMetrics(Panel):
    """The workers' fine performance metrics, in one unit at a time."""

    name = "fine-performance-metrics"
    interval = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.rows: list = []
        self.unit = Select(title="Unit", value="seconds", options=["seconds"])
        self.unit.on_change("value", lambda attr, old, new: self.redraw())
        self.by_activity = NamedBars("Task execution, by activity")
        self.by_function = NamedBars("Task execution, by function")
        self.send = NamedBars("Send data, by activity")
        self.body = column(
            self.unit,
            row(self.by_activity.body, self.send.body, sizing_mode="stretch_width"),
            self.by_function.body,
            sizing_mode="stretch_width",
        )

    async def fetch(self) -> None:
        self.rows = await SHARED.get("fine_metrics")

    def update(self, snapshot: Snapshot) -> None:
        units = sorted({row[3] for row in self.rows} | {"seconds"})
        if list(self.unit.options) != units:
            self.unit.options = units
        self.say(None if self.rows else "No worker has reported fine metrics yet.")
        self.redraw()

    def redraw(self) -> None:
        unit = self.unit.value
        activities: dict[str, float] = {}
        functions: dict[str, float] = {}
        send: dict[str, float] = {}
        for context, function, activity, row_unit, value in self.rows:
            if row_unit != unit:
                continue
            if context == "execute":
                activities[activity] = activities.get(activity, 0.0) + value
                functions[function] = functions.get(function, 0.0) + value
            elif context == "get-data":
                send[activity] = send.get(activity, 0.0) + value
        for bars in (self.by_activity, self.by_function, self.send):
            bars.unit = unit
        self.by_activity.draw(activities)
        self.by_function.draw(functions)
        self.send.draw(send)


class PrefixTiming:
    """Threads busy per task prefix in bins of ``GROUP_BIN_SECONDS``."""

    def __init__(self) -> None:
        self.last_time: float | None = None
        self.last_seconds: dict[str, float] = {}
        self.bins: deque[tuple[float, dict[str, float], int]] = deque(maxlen=GROUP_BINS)

    def record(self, snapshot: Snapshot) -> None:
        """Add a bin when ``snapshot`` is a bin length newer than the last."""
        seconds = {p.name: p.compute_seconds for p in snapshot.prefixes}
        if self.last_time is None:
            self.last_time = snapshot.taken_at
            self.last_seconds = seconds
            return
        elapsed = snapshot.taken_at - self.last_time
        if elapsed < GROUP_BIN_SECONDS:
            return
        busy = {}
        for name, total in seconds.items():
            # A prefix whose tasks were all forgotten restarts from zero.
            delta = total - self.last_seconds.get(name, 0.0)
            if delta > 0:
                busy[name] = delta / elapsed
        self.bins.append((snapshot.taken_at, busy, snapshot.total_threads))
        self.last_time = snapshot.taken_at
        self.last_seconds = seconds


#: The process-wide group timing that every group progress session reads.
TIMING = PrefixTiming()


class GroupProgress(Panel):
    """Threads busy per task prefix over time, stacked."""

    name = "group-progress"
    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.prefixes: tuple[str, ...] = ()
        self.source = ColumnDataSource({"time": []})
        self.figure = figure(
            title="Threads busy per task prefix",
            x_axis_type="datetime",
            y_range=Range1d(0, 1),
            height=300,
            sizing_mode="stretch_width",
            toolbar_location=None,
            tools="",
        )
        self.figure.yaxis.axis_label = "threads"
        self.body = self.figure

    def update(self, snapshot: Snapshot) -> None:
        TIMING.record(snapshot)
        bins = list(TIMING.bins)
        totals: dict[str, float] = {}
        for _, busy, _ in bins:
            for name, threads in busy.items():
                totals[name] = totals.get(name, 0.0) + threads
        ranked = sorted(totals, key=lambda name: -totals[name])
        prefixes = tuple(sorted(ranked[:GROUP_MAX_PREFIXES]))
        if prefixes != self.prefixes:
            self._restack(prefixes)
        data: dict[str, list] = {"time": [t * 1000 for t, _, _ in bins]}
        for index, name in enumerate(prefixes):
            data[f"p{index}"] = [busy.get(name, 0.0) for _, busy, _ in bins]
        self.source.data = data
        threads = max([n for _, _, n in bins] + [snapshot.total_threads, 1])
        self.figure.y_range.end = threads
        self.say(None if prefixes else "No task has finished computing recently.")

    def _restack(self, prefixes: tuple[str, ...]) -> None:
        """Replace the stacked areas, because Bokeh stacks fixed columns."""
        self.figure.renderers = []
        for legend in self.figure.legend:
            legend.items = []
        # Column names are positions, because prefixes are arbitrary text.
        columns = [f"p{index}" for index in range(len(prefixes))]
        self.source.data = {"time": [], **{name: [] for name in columns}}
        if columns:
            self.figure.varea_stack(
                stackers=columns,
                x="time",
                color=[colour_for(name) for name in prefixes],
                legend_label=[shorten(name) for name in prefixes],
                source=self.source,
            )
            self.figure.legend.location = "top_left"
        self.prefixes = prefixes
