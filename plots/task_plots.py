"""
Task stream, progress bars and per-prefix totals.

The task stream reads the records the backend's poller keeps in this
process (``backend.task_stream(since)``); the other plots read the shared
snapshot's task prefixes.
"""

from __future__ import annotations

import re

from bokeh.models import (
    ColumnDataSource,
    FactorRange,
    HoverTool,
    Range1d,
)
from bokeh.plotting import figure

from clusterdash.backends import get_backend
from clusterdash.backends.types import Key, Snapshot, TaskStreamRecord
from clusterdash.keys import key_to_text

from .panels import (
    BLACK,
    BLUE,
    GREY,
    ORANGE,
    SKY,
    TOOLTIP_CHARS,
    VERMILION,
    YELLOW,
    Panel,
    colour_for,
    format_bytes,
    shorten,
)

NO_TASKS = "No tasks yet."

#: A word that is a hex token (``5c8f10ab``), which ends a key's prefix.
_HEX_WORD = re.compile(r"^[0-9a-f]{8}$")

#: Label prefixes of the non-compute actions in the task stream.
ACTION_PREFIX = {
    "compute": "",
    "transfer": "transfer-",
    "disk-read": "disk-read-",
    "disk-write": "disk-write-",
    "deserialize": "deserialize-",
}


def key_prefix(key: Key) -> str:
    """
    Return the task prefix of ``key``, by Dask's ``key_split`` rule.

    The prefix is the first ``-``-separated word plus the alphabetic words
    after it, up to the first hex token or number: ``inc-5c8f10ab-...`` and
    ``('inc-5c8f10ab', 0)`` both give ``inc``.
    """
    while isinstance(key, tuple) and key:
        key = key[0]
    words = str(key).split("-")
    prefix = words[0]
    if not prefix or not prefix[0].isalpha():
        return prefix or str(key)
    for word in words[1:]:
        if not word.isalpha() or _HEX_WORD.match(word):
            break
        prefix += "-" + word
    return prefix


class TaskStream(Panel):
    """One rectangle per action of every finished task, by worker thread."""

    name = "task-stream"
    interval = 0.2

    def __init__(self, rollover: int = 1000, title: str = "Task Stream") -> None:
        super().__init__()
        self.rollover = rollover
        self.backend = get_backend()
        self.cursor = 0
        self.lanes: dict[tuple[str, int], int] = {}
        self.source = ColumnDataSource(
            {
                "start": [],
                "duration": [],
                "x": [],
                "y": [],
                "lane": [],
                "key": [],
                "name": [],
                "worker": [],
                "color": [],
                "alpha": [],
            }
        )
        self.figure = figure(
            title=title,
            x_axis_type="datetime",
            y_range=Range1d(-0.5, 0.5),
            height=300,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="above",
        )
        self.figure.rect(
            x="x",
            y="y",
            width="duration",
            height=0.8,
            fill_color="color",
            line_color="color",
            fill_alpha="alpha",
            line_alpha=0,
            source=self.source,
        )
        self.figure.add_tools(
            HoverTool(
                tooltips=[
                    ("Key", "@key"),
                    ("Action", "@name"),
                    ("Worker", "@worker"),
                    ("Duration", "@duration{0,0.000} ms"),
                ]
            )
        )
        self.figure.yaxis.visible = False
        self.figure.ygrid.grid_line_color = None
        self.body = self.figure

    def update(self, snapshot: Snapshot) -> None:
        records, self.cursor = self.backend.task_stream(self.cursor)
        # Rows beyond the rollover would be dropped at once, so they are
        # not sent at all.
        records = records[-self.rollover :]
        if records:
            rows = self.rows(records)
            self.source.stream(rows, rollover=self.rollover)
            self.figure.y_range.end = len(self.lanes) - 0.5
        if len(self.source.data["x"]):
            self.say(None)
        elif not snapshot.workers:
            self.say("No workers are connected to the scheduler.")
        else:
            self.say("No tasks have finished since this page opened.")

    def rows(self, records: list[TaskStreamRecord]) -> dict[str, list]:
        """Turn records into data-source columns, one row per action."""
        data: dict[str, list] = {name: [] for name in self.source.data}
        for record in records:
            lane = self.lanes.setdefault(
                (record.worker, record.thread), len(self.lanes)
            )
            text = shorten(key_to_text(record.key), TOOLTIP_CHARS)
            prefix = key_prefix(record.key)
            for action in record.startstops:
                kind = str(action.get("action", "compute"))
                start_ms = float(action["start"]) * 1000
                stop_ms = float(action["stop"]) * 1000
                label = ACTION_PREFIX.get(kind, kind + "-") + prefix
                data["start"].append(start_ms)
                data["duration"].append(max(stop_ms - start_ms, 0.0))
                data["x"].append((start_ms + stop_ms) / 2)
                data["y"].append(lane)
                data["lane"].append(f"{record.worker} thread {record.thread}")
                data["key"].append(text)
                data["name"].append(shorten(label))
                data["worker"].append(record.worker)
                if record.status == "error" and kind == "compute":
                    data["color"].append(BLACK)
                elif kind == "compute":
                    data["color"].append(colour_for(prefix))
                else:
                    data["color"].append(_action_colour(kind))
                data["alpha"].append(1.0 if kind == "compute" else 0.4)
        return data


def _action_colour(kind: str) -> str:
    return {"transfer": VERMILION, "disk-read": ORANGE, "disk-write": ORANGE}.get(
        kind, GREY
    )


#: Progress bar segments: (state in the data, label, colour).
PROGRESS_SEGMENTS = (
    ("released", "released", SKY),
    ("memory", "in memory", BLUE),
    ("erred", "erred", BLACK),
    ("processing", "processing", YELLOW),
    ("queued", "queued", GREY),
    ("no-worker", "no worker", VERMILION),
)


class TaskProgress(Panel):
    """One bar per task prefix, split by task state."""

    name = "progress"
    interval = 0.2

    def __init__(self) -> None:
        super().__init__()
        self.source = ColumnDataSource(
            {
                "prefix": [],
                "state": [],
                "left": [],
                "right": [],
                "count": [],
                "total": [],
                "color": [],
            }
        )
        self.figure = figure(
            title="Progress",
            y_range=FactorRange(),
            x_range=Range1d(0, 1),
            height=220,
            sizing_mode="stretch_width",
            toolbar_location=None,
            tools="",
        )
        self.figure.hbar(
            y="prefix",
            left="left",
            right="right",
            height=0.8,
            color="color",
            source=self.source,
        )
        self.figure.add_tools(
            HoverTool(
                tooltips=[
                    ("Prefix", "@prefix"),
                    ("State", "@state"),
                    ("Tasks", "@count of @total"),
                ]
            )
        )
        self.figure.xaxis.visible = False
        self.body = self.figure

    def update(self, snapshot: Snapshot) -> None:
        prefixes = [p for p in snapshot.prefixes if p.total > 0]
        self.say(None if prefixes else NO_TASKS)
        data: dict[str, list] = {name: [] for name in self.source.data}
        for prefix in prefixes:
            total = prefix.total
            left = 0.0
            for state, label, colour in PROGRESS_SEGMENTS:
                count = prefix.states.get(state, 0)
                if not count:
                    continue
                width = count / total
                data["prefix"].append(shorten(prefix.name))
                data["state"].append(label)
                data["left"].append(left)
                data["right"].append(left + width)
                data["count"].append(count)
                data["total"].append(total)
                data["color"].append(colour)
                left += width
        self.source.data = data
        factors = [shorten(p.name) for p in reversed(prefixes)]
        if list(self.figure.y_range.factors) != factors:
            self.figure.y_range.factors = factors
        self.figure.height = max(160, 40 + 22 * len(prefixes))
        self.figure.title.text = _progress_title(snapshot)


def _progress_title(snapshot: Snapshot) -> str:
    states = snapshot.task_states
    total = sum(n for state, n in states.items() if state != "forgotten")
    return (
        f"Progress -- total: {total:,}, waiting: {states.get('waiting', 0):,}, "
        f"queued: {states.get('queued', 0):,}, "
        f"processing: {states.get('processing', 0):,}, "
        f"in-memory: {states.get('memory', 0):,}, "
        f"no-worker: {states.get('no-worker', 0):,}, "
        f"erred: {states.get('erred', 0):,}"
    )


class PrefixBars(Panel):
    """One bar per task prefix for a single number."""

    interval = 0.5
    title = ""
    empty = NO_TASKS

    def __init__(self) -> None:
        super().__init__()
        self.source = ColumnDataSource(
            {"prefix": [], "value": [], "text": [], "count": [], "color": []}
        )
        self.figure = figure(
            title=self.title,
            y_range=FactorRange(),
            x_range=Range1d(0, 1),
            height=260,
            sizing_mode="stretch_width",
            toolbar_location=None,
            tools="",
        )
        self.figure.hbar(
            y="prefix", right="value", height=0.8, color="color", source=self.source
        )
        self.figure.add_tools(
            HoverTool(
                tooltips=[("Prefix", "@prefix"), ("Value", "@text"), ("Keys", "@count")]
            )
        )
        self.body = self.figure

    def rows(self, snapshot: Snapshot) -> list[tuple[str, float, str, int]]:
        raise NotImplementedError

    def update(self, snapshot: Snapshot) -> None:
        rows = self.rows(snapshot)
        self.say(None if rows else self.empty)
        rows.sort(key=lambda row: row[1])
        self.source.data = {
            "prefix": [shorten(row[0]) for row in rows],
            "value": [row[1] for row in rows],
            "text": [row[2] for row in rows],
            "count": [row[3] for row in rows],
            "color": [colour_for(row[0]) for row in rows],
        }
        factors = self.source.data["prefix"]
        if list(self.figure.y_range.factors) != factors:
            self.figure.y_range.factors = factors
        self.figure.x_range.end = max([row[1] for row in rows] + [1e-9]) * 1.05
        self.retitle(rows)

    def retitle(self, rows: list) -> None:
        pass


class MemoryByKey(PrefixBars):
    """Bytes of results in memory per task prefix."""

    name = "memory-by-key"
    title = "Memory by key"
    empty = "No task results are in memory."

    def rows(self, snapshot: Snapshot) -> list:
        return [
            (p.name, float(p.nbytes), format_bytes(p.nbytes), p.states.get("memory", 0))
            for p in snapshot.prefixes
            if p.states.get("memory", 0)
        ]

    def retitle(self, rows: list) -> None:
        total = sum(row[1] for row in rows)
        self.figure.title.text = f"Total Use: {format_bytes(total)}"


class ComputePerKey(PrefixBars):
    """Seconds of compute per task prefix."""

    name = "compute-time-per-key"
    title = "Compute time per task prefix"
    empty = "No task has finished computing yet."

    #: Prefixes below this share of the largest are left out, as in Dask.
    MIN_SHARE = 0.02

    def rows(self, snapshot: Snapshot) -> list:
        largest = max((p.compute_seconds for p in snapshot.prefixes), default=0.0)
        return [
            (p.name, p.compute_seconds, f"{p.compute_seconds:.3f} s", p.total)
            for p in snapshot.prefixes
            if p.compute_seconds > 0 and p.compute_seconds >= largest * self.MIN_SHARE
        ]
