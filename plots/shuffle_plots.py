"""
The P2P shuffle buffers of each worker, from the scheduler's shuffle
heartbeats, fetched once per interval for every session.
"""

from __future__ import annotations

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter, Range1d
from bokeh.plotting import figure

from clusterdash.backends.types import Snapshot

from .panels import BLUE, GREY, SHARED, SKY, VERMILION, Panel, format_bytes
from .worker_plots import _set_factors, _worker_figure

#: Seconds after which a worker's buffers are drawn grey as stale, as in Dask.
STALE_SECONDS = 5.0

TOTALS = ("Network Send", "Network Receive", "Disk Write", "Disk Read")

NO_SHUFFLE = "No P2P shuffle is running."


def _buffer_colour(entry: dict, kind: str) -> str:
    if entry["age"] > STALE_SECONDS:
        return GREY
    buffer = entry[kind]
    if buffer["memory_limit"] and buffer["memory"] > buffer["memory_limit"]:
        return VERMILION
    return BLUE


class Shuffling(Panel):
    """Comm and disk buffer memory per worker, and the shuffle's totals."""

    name = "shuffling"
    interval = 0.2

    def __init__(self) -> None:
        super().__init__()
        self.answer: dict | None = None
        fields = ("worker", "memory", "limit", "text", "color")
        self.buffers = {}
        self.figures = {}
        for kind, title in (("comm", "Comms buffer"), ("disk", "Disk buffer")):
            source = ColumnDataSource({field: [] for field in fields})
            fig = _worker_figure(
                title,
                [("Worker", "@worker"), ("Memory / limit", "@text")],
                x_range=Range1d(0, 1),
            )
            fig.hbar(
                y="worker",
                right="limit",
                height=0.8,
                color=SKY,
                alpha=0.3,
                source=source,
            )
            fig.hbar(
                y="worker", right="memory", height=0.8, color="color", source=source
            )
            fig.xaxis.formatter = NumeralTickFormatter(format="0.0 b")
            self.buffers[kind] = source
            self.figures[kind] = fig
        self.totals = ColumnDataSource(
            {"x": list(TOTALS), "value": [0] * 4, "text": [""] * 4}
        )
        totals = figure(
            title="Totals",
            x_range=list(TOTALS),
            y_range=Range1d(0, 1),
            height=220,
            sizing_mode="stretch_width",
            toolbar_location=None,
            tools="",
        )
        totals.vbar(x="x", top="value", width=0.8, color=BLUE, source=self.totals)
        totals.add_tools(HoverTool(tooltips=[("", "@x"), ("Bytes", "@text")]))
        totals.yaxis.formatter = NumeralTickFormatter(format="0.0 b")
        self.totals_figure = totals
        self.body = column(
            row(
                self.figures["comm"], self.figures["disk"], sizing_mode="stretch_width"
            ),
            totals,
            sizing_mode="stretch_width",
        )

    async def fetch(self) -> None:
        self.answer = await SHARED.get("shuffle_state")

    def update(self, snapshot: Snapshot) -> None:
        workers = (self.answer or {}).get("workers") or {}
        self.say(None if workers else NO_SHUFFLE)
        names = sorted(workers)
        end = 1.0
        for kind, source in self.buffers.items():
            memory = [workers[w][kind]["memory"] for w in names]
            limit = [workers[w][kind]["memory_limit"] for w in names]
            source.data = {
                "worker": names,
                "memory": memory,
                "limit": limit,
                "text": [
                    f"{format_bytes(m)} / {format_bytes(lim)}"
                    for m, lim in zip(memory, limit, strict=True)
                ],
                "color": [_buffer_colour(workers[w], kind) for w in names],
            }
            _set_factors(self.figures[kind], names)
            end = max([end, *memory, *limit])
        for fig in self.figures.values():
            fig.x_range.end = end * 1.2
        values = [
            sum(workers[w]["comm"]["written"] for w in names),
            sum(workers[w]["comm"]["read"] for w in names),
            sum(workers[w]["disk"]["written"] for w in names),
            sum(workers[w]["disk"]["read"] for w in names),
        ]
        self.totals.data = {
            "x": list(TOTALS),
            "value": values,
            "text": [format_bytes(v) for v in values],
        }
        self.totals_figure.y_range.end = max([*values, 1.0]) * 1.1
