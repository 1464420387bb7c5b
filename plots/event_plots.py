"""
Scheduler events, exceptions, work stealing and counters.
"""

from __future__ import annotations

from bokeh.models import (
    ColumnDataSource,
    DataTable,
    FactorRange,
    HoverTool,
    TableColumn,
)
from bokeh.plotting import figure

from clusterdash.backends.types import Snapshot
from clusterdash.keys import key_to_text

from .panels import (
    GREEN,
    SHARED,
    TOOLTIP_CHARS,
    VERMILION,
    Panel,
    colour_for,
    shorten,
)


class ExceptionsTable(Panel):
    """Recent exceptions from the scheduler's bounded history."""

    name = "exceptions"
    interval = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.erred: list = []
        self.source = ColumnDataSource(
            {"task": [], "exception": [], "traceback": [], "workers": [], "count": []}
        )
        self.body = DataTable(
            source=self.source,
            columns=[
                TableColumn(field="task", title="Task"),
                TableColumn(field="exception", title="Exception"),
                TableColumn(field="traceback", title="Traceback"),
                TableColumn(field="workers", title="Worker(s)"),
                TableColumn(field="count", title="Count"),
            ],
            index_position=None,
            reorderable=False,
            sizing_mode="stretch_width",
            height=400,
        )

    async def fetch(self) -> None:
        self.erred = await SHARED.get("erred_tasks")

    def update(self, snapshot: Snapshot) -> None:
        erred = self.erred
        self.say(None if erred else "No task has raised an exception.")
        self.source.data = {
            "task": [shorten(key_to_text(e.key), TOOLTIP_CHARS) for e in erred],
            "exception": [e.exception_text for e in erred],
            "traceback": [e.traceback_text for e in erred],
            "workers": [", ".join(e.workers) for e in erred],
            "count": [len(e.workers) for e in erred],
        }


class EventsPlot(Panel):
    """One dot per event of a scheduler topic, one lane per action."""

    interval = 1.0

    def __init__(self, topic: str, title: str) -> None:
        super().__init__()
        self.name = f"events-{topic}"
        self.topic = topic
        self.seen = 0
        self.answer: dict = {}
        self.source = ColumnDataSource(
            {"time": [], "action": [], "text": [], "color": []}
        )
        self.figure = figure(
            title=title,
            x_axis_type="datetime",
            y_range=FactorRange(),
            height=300,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="above",
        )
        self.figure.scatter(
            "time", "action", source=self.source, size=10, color="color", alpha=0.7
        )
        self.figure.add_tools(
            HoverTool(tooltips=[("Action", "@action"), ("Event", "@text")])
        )
        self.body = self.figure

    async def fetch(self) -> None:
        self.answer = await SHARED.get("events", self.topic, 0)

    def update(self, snapshot: Snapshot) -> None:
        count = self.answer.get("count", 0)
        events = self.answer.get("events", [])
        new = events[len(events) - min(max(count - self.seen, 0), len(events)) :]
        self.seen = count
        if new:
            self.source.stream(
                {
                    "time": [t * 1000 for t, _, _ in new],
                    "action": [action or "(none)" for _, action, _ in new],
                    "text": [text for _, _, text in new],
                    "color": [colour_for(action) for _, action, _ in new],
                },
                rollover=10_000,
            )
            factors = sorted(set(self.source.data["action"]))
            if list(self.figure.y_range.factors) != factors:
                self.figure.y_range.factors = factors
        empty = f"No events on topic {self.topic!r} yet."
        self.say(None if self.source.data["time"] else empty)


class StealingTimeSeries(Panel):
    """Idle and saturated workers over time."""

    name = "stealing-timeseries"
    interval = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.source = ColumnDataSource({"time": [], "idle": [], "saturated": []})
        self.figure = figure(
            title="Idle and saturated workers",
            x_axis_type="datetime",
            height=250,
            sizing_mode="stretch_width",
            tools="",
            toolbar_location=None,
        )
        self.figure.line(
            "time", "idle", source=self.source, color=VERMILION, legend_label="idle"
        )
        self.figure.line(
            "time",
            "saturated",
            source=self.source,
            color=GREEN,
            legend_label="saturated",
        )
        self.body = self.figure

    def update(self, snapshot: Snapshot) -> None:
        self.say(
            None if snapshot.workers else "No workers are connected to the scheduler."
        )
        self.source.stream(
            {
                "time": [snapshot.taken_at * 1000],
                "idle": [sum(1 for w in snapshot.workers if w.idle)],
                "saturated": [sum(1 for w in snapshot.workers if w.saturated)],
            },
            rollover=10_000,
        )


class CountersTable(Panel):
    """The scheduler's counters: how often each value was counted."""

    name = "counters"
    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.counters: dict = {}
        self.source = ColumnDataSource({"counter": [], "value": [], "count": []})
        self.body = DataTable(
            source=self.source,
            columns=[
                TableColumn(field="counter", title="Counter"),
                TableColumn(field="value", title="Value"),
                TableColumn(field="count", title="Count"),
            ],
            index_position=None,
            reorderable=False,
            sizing_mode="stretch_width",
            height=400,
        )

    async def fetch(self) -> None:
        self.counters = await SHARED.get("counters")

    def update(self, snapshot: Snapshot) -> None:
        rows = [
            (name, value, count)
            for name, values in sorted(self.counters.items())
            for value, count in sorted(values.items(), key=lambda kv: -kv[1])
        ]
        self.say(None if rows else "The scheduler has counted nothing yet.")
        self.source.data = {
            "counter": [r[0] for r in rows],
            "value": [r[1] for r in rows],
            "count": [r[2] for r in rows],
        }
