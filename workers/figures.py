"""
Bokeh figures of each worker's plot pages, and the columns that fill them.

Every page is a fixed layout whose data sources carry names. The page
embeds the layout once with ``json_item`` and its script polls the page's
``.json`` twin, which returns ``{source name: columns}``, and swaps the
data in place, so the pages need no Bokeh server.
"""

from __future__ import annotations

import math
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import (
    BoxSelectTool,
    ColumnDataSource,
    DataTable,
    HoverTool,
    LassoSelectTool,
    NumeralTickFormatter,
    TableColumn,
)
from bokeh.palettes import Colorblind8
from bokeh.plotting import figure

#: Plot pages and their titles, in navigation order.
PLOT_PAGES = {
    "status": "Worker status",
    "crossfilter": "Worker task crossfilter",
    "system": "Worker system",
    "profile": "Worker profile",
    "profile-server": "Worker event-loop profile",
}

#: Columns of the status page's state table, as Dask labels them.
STATE_COLUMNS = ("Stored", "Executing", "Ready", "Waiting", "Connections", "Serving")

#: Okabe-Ito vermillion and sky blue, which colour-blind readers tell apart
#: and which stay visible on the dark theme's background.
INCOMING_COLOR = Colorblind8[5]
OUTGOING_COLOR = Colorblind8[4]


def _source(name: str, columns: tuple[str, ...]) -> ColumnDataSource:
    return ColumnDataSource({column: [] for column in columns}, name=name)


def _time_figure(title: str, **kwargs) -> figure:
    return figure(
        title=title,
        x_axis_type="datetime",
        height=200,
        sizing_mode="stretch_width",
        tools="pan,xwheel_zoom,box_zoom,reset",
        **kwargs,
    )


def build_layout(page: str):
    """Return a new Bokeh layout of ``page`` with empty named sources."""
    return _BUILDERS[page]()


def _status_layout():
    state = _source("state", STATE_COLUMNS)
    table = DataTable(
        source=state,
        columns=[TableColumn(field=name, title=name) for name in STATE_COLUMNS],
        height=60,
        index_position=None,
        sizing_mode="stretch_width",
    )

    series = _source(
        "series", ("time", "executing", "nthreads", "incoming", "outgoing")
    )
    executing = _time_figure("Executing")
    executing.line("time", "executing", source=series, color="green")
    executing.line("time", "nthreads", source=series, color="gray", line_dash="dashed")
    transfers = _time_figure("Transfers", x_range=executing.x_range)
    transfers.line("time", "incoming", source=series, color=INCOMING_COLOR)
    transfers.line("time", "outgoing", source=series, color=OUTGOING_COLOR)

    comms = _source(
        "comms",
        ("left", "right", "lane", "color", "alpha", "who", "total", "duration", "rate"),
    )
    peers = _time_figure("Peer communications", x_range=executing.x_range)
    peers.hbar(
        y="lane",
        left="left",
        right="right",
        height=0.8,
        source=comms,
        color="color",
        alpha="alpha",
    )
    peers.add_tools(
        HoverTool(
            tooltips=[
                ("Peer", "@who"),
                ("Bytes", "@total{0.00 b}"),
                ("Duration", "@duration{0.000} s"),
                ("Rate", "@rate{0.00 b}/s"),
            ]
        )
    )
    return column(table, executing, transfers, peers, sizing_mode="stretch_width")


def _crossfilter_layout():
    tasks = _source(
        "tasks", ("start", "duration", "nbytes", "prefix", "key", "color", "state")
    )
    tooltips = [
        ("Key", "@key"),
        ("Prefix", "@prefix"),
        ("Duration", "@duration{0.000} s"),
        ("Bytes", "@nbytes{0.00 b}"),
    ]

    def scatter(title, x, y, **kwargs):
        fig = figure(
            title=title,
            height=260,
            sizing_mode="stretch_width",
            tools="pan,wheel_zoom,reset",
            **kwargs,
        )
        fig.scatter(
            x,
            y,
            source=tasks,
            color="color",
            size=7,
            alpha=0.7,
            nonselection_alpha=0.1,
            legend_field="prefix",
        )
        fig.add_tools(BoxSelectTool(), LassoSelectTool(), HoverTool(tooltips=tooltips))
        fig.legend.location = "top_left"
        fig.legend.label_text_font_size = "8pt"
        return fig

    by_start = scatter(
        "Duration by start time", "start", "duration", x_axis_type="datetime"
    )
    by_start.yaxis.axis_label = "seconds"
    by_size = scatter("Bytes by duration", "duration", "nbytes")
    by_size.xaxis.axis_label = "seconds"
    by_size.yaxis.axis_label = "bytes"
    size_start = scatter(
        "Bytes by start time",
        "start",
        "nbytes",
        x_axis_type="datetime",
        x_range=by_start.x_range,
    )
    # The plots share one source, so a selection in any plot is the
    # selection of all of them and the others dim the tasks left out.
    return column(
        row(by_start, by_size, sizing_mode="stretch_width"),
        size_start,
        sizing_mode="stretch_width",
    )


def _system_layout():
    system = _source(
        "system", ("time", "cpu", "memory", "read_bps", "write_bps", "num_fds")
    )
    cpu = _time_figure("CPU use (%)")
    cpu.line("time", "cpu", source=system)
    memory = _time_figure("Memory", x_range=cpu.x_range)
    memory.line("time", "memory", source=system)
    memory.yaxis.formatter = NumeralTickFormatter(format="0.0 b")
    bandwidth = _time_figure("Network bandwidth (per second)", x_range=cpu.x_range)
    bandwidth.yaxis.formatter = NumeralTickFormatter(format="0.0 b")
    bandwidth.line(
        "time", "read_bps", source=system, color=INCOMING_COLOR, legend_label="read"
    )
    bandwidth.line(
        "time", "write_bps", source=system, color=OUTGOING_COLOR, legend_label="write"
    )
    fds = _time_figure("File descriptors", x_range=cpu.x_range)
    fds.line("time", "num_fds", source=system)
    return column(cpu, memory, bandwidth, fds, sizing_mode="stretch_width")


def _profile_layout():
    rectangles = _source(
        "profile",
        (
            "left",
            "right",
            "bottom",
            "top",
            "name",
            "filename",
            "line_number",
            "time",
            "percentage",
            "color",
        ),
    )
    fig = figure(
        title="Profile",
        height=500,
        sizing_mode="stretch_width",
        tools="xwheel_zoom,xpan,reset,tap",
    )
    fig.quad(
        "left",
        "right",
        "bottom",
        "top",
        source=rectangles,
        color="color",
        line_color="black",
        line_width=1,
    )
    fig.add_tools(
        HoverTool(
            tooltips=[
                ("Name", "@name"),
                ("File", "@filename:@line_number"),
                ("Time", "@time{0.000} s"),
                ("Share", "@percentage"),
            ]
        )
    )
    fig.yaxis.visible = False
    return fig


_BUILDERS = {
    "status": _status_layout,
    "crossfilter": _crossfilter_layout,
    "system": _system_layout,
    "profile": _profile_layout,
    "profile-server": _profile_layout,
}


# Columns ----------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def status_columns(sample: dict[str, Any], series: list[dict[str, Any]]):
    """Return the status page's sources from one sample and the history."""
    state = {
        "Stored": [sample["stored"]],
        "Executing": [f"{sample['executing']} / {sample['nthreads']}"],
        "Ready": [sample["ready"]],
        "Waiting": [sample["waiting"]],
        "Connections": [sample["connections"]],
        "Serving": [sample["serving"]],
    }
    history = {
        "time": [_ms(s["time"]) for s in series],
        "executing": [s["executing"] for s in series],
        "nthreads": [s["nthreads"] for s in series],
        "incoming": [s["incoming"] for s in series],
        "outgoing": [s["outgoing"] for s in series],
    }
    comms = {
        name: []
        for name in (
            "left",
            "right",
            "lane",
            "color",
            "alpha",
            "who",
            "total",
            "duration",
            "rate",
        )
    }
    lanes: dict[str, int] = {}
    transfers = [(t, INCOMING_COLOR) for t in sample["incoming"]]
    transfers += [(t, OUTGOING_COLOR) for t in sample["outgoing"]]
    top_rate = max((t["bandwidth"] for t, _ in transfers), default=0.0) or 1.0
    for transfer, color in transfers:
        lane = lanes.setdefault(transfer["who"], len(lanes))
        comms["left"].append(_ms(transfer["start"]))
        comms["right"].append(_ms(transfer["stop"]))
        comms["lane"].append(lane)
        comms["color"].append(color)
        comms["alpha"].append(0.2 + 0.8 * min(transfer["bandwidth"] / top_rate, 1.0))
        comms["who"].append(transfer["who"])
        comms["total"].append(transfer["total"])
        comms["duration"].append(transfer["duration"])
        comms["rate"].append(transfer["bandwidth"])
    return {"state": state, "series": history, "comms": comms}


def crossfilter_columns(records: list[dict[str, Any]], color_of):
    """Return the crossfilter page's source from the kept task records."""
    return {
        "tasks": {
            "start": [_ms(r["start"]) for r in records],
            "duration": [max(r["stop"] - r["start"], 0.0) for r in records],
            "nbytes": [r["nbytes"] for r in records],
            "prefix": [r["prefix"] for r in records],
            "key": [r["key"] for r in records],
            "color": [color_of(r["prefix"]) for r in records],
            "state": [r["state"] for r in records],
        }
    }


def system_columns(samples: dict[str, list[float]]):
    """Return the system page's source from the kept monitor samples."""
    times = samples.get("time", [])
    n = len(times)

    def series(name):
        values = samples.get(name) or [math.nan] * n
        # JSON has no NaN, and Bokeh draws None as a gap.
        return [v if math.isfinite(v) else None for v in values[len(values) - n :]]

    return {
        "system": {
            "time": [_ms(t) for t in times],
            "cpu": series("cpu"),
            "memory": series("memory"),
            "read_bps": series("host_net_io.read_bps"),
            "write_bps": series("host_net_io.write_bps"),
            "num_fds": series("num_fds"),
        }
    }


def profile_columns(answer: dict[str, Any], color_of):
    """Return the profile page's source from the flame-graph rectangles."""
    rectangles = dict(answer["rectangles"])
    rectangles["color"] = [color_of(name) for name in rectangles["filename"]]
    return {"profile": rectangles}
