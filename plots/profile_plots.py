"""
Statistical profiles as flame graphs: the workers' tasks and the scheduler.

Profiles are fetched when the page opens, when Update is pressed, and
every few seconds until the first samples arrive.
"""

from __future__ import annotations

import time

from bokeh.layouts import column, row
from bokeh.models import Button, ColumnDataSource, HoverTool, Range1d, Select
from bokeh.plotting import figure

from clusterdash.backends.types import Snapshot

from .panels import Panel, SharedFetch, colour_for

SHARED = SharedFetch(ttl=2.0)

ALL_TASKS = "All tasks"

#: Seconds between automatic refreshes while the profile has no samples.
EMPTY_REFRESH = 3.0


class Profile(Panel):
    """A flame graph of the merged profile; wider means more samples."""

    interval = 1.0

    def __init__(self, server: bool = False) -> None:
        super().__init__()
        self.server = server
        self.name = "profile-server" if server else "profile"
        self.answer: dict = {}
        self.wanted = True
        self.fetched_at = 0.0
        #: Whether ``answer`` has not been drawn yet.
        self.fresh = False
        self.source = ColumnDataSource(
            {
                "left": [],
                "right": [],
                "bottom": [],
                "top": [],
                "name": [],
                "filename": [],
                "line_number": [],
                "time": [],
                "percentage": [],
                "color": [],
            }
        )
        title = "Profile of the scheduler's event loop" if server else "Profile"
        self.figure = figure(
            title=title,
            height=500,
            sizing_mode="stretch_width",
            x_range=Range1d(0, 1),
            y_range=Range1d(0, 1),
            tools="xpan,xwheel_zoom,box_zoom,reset",
            toolbar_location="above",
        )
        self.figure.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            color="color",
            line_color="white",
            source=self.source,
        )
        self.figure.add_tools(
            HoverTool(
                tooltips=[
                    ("Function", "@name"),
                    ("File", "@filename:@line_number"),
                    ("Time", "@time (@percentage)"),
                ]
            )
        )
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self.select = Select(title="Task prefix", value=ALL_TASKS, options=[ALL_TASKS])
        self.button = Button(label="Update", button_type="primary")
        self.button.on_click(self._request_update)
        self.select.on_change("value", lambda attr, old, new: self._request_update())
        controls = [] if server else [self.select]
        self.body = column(
            row(*controls, self.button), self.figure, sizing_mode="stretch_width"
        )

    def _request_update(self, *args) -> None:
        self.wanted = True

    async def fetch(self) -> None:
        stale = time.monotonic() - self.fetched_at > EMPTY_REFRESH
        if not self.wanted and not (stale and not self.answer.get("count")):
            return
        self.wanted = False
        key = None if self.select.value == ALL_TASKS else self.select.value
        self.answer = await SHARED.get("profile", key, self.server)
        self.fetched_at = time.monotonic()
        self.fresh = True

    def update(self, snapshot: Snapshot) -> None:
        if not self.server:
            options = [ALL_TASKS, *sorted(p.name for p in snapshot.prefixes)]
            if self.select.value not in options:
                options.append(self.select.value)
            if self.select.options != options:
                self.select.options = options
        if not self.fresh:
            return
        self.fresh = False
        rectangles = self.answer.get("rectangles") or {}
        if not self.answer.get("count"):
            self.say(self._empty_notice(snapshot))
        else:
            self.say(None)
        data = {field: list(rectangles.get(field, [])) for field in self.source.data}
        data["color"] = [colour_for(str(f)) for f in rectangles.get("filename", [])]
        self.source.data = data
        self.figure.y_range.end = max(data["top"] + [1])

    def _empty_notice(self, snapshot: Snapshot) -> str:
        if self.server:
            if not self.answer.get("server_profiling", True):
                return (
                    "No profile samples: the scheduler does not profile its event "
                    "loop (Dask turns this off on CPython 3.11 and when "
                    "distributed.worker.profile.enabled is false)."
                )
            return "No profile samples of the scheduler's event loop yet."
        if not snapshot.workers:
            return "No workers are connected to the scheduler."
        return "No profile samples yet: workers record them while tasks run."
