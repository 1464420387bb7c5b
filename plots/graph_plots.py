"""
The task graph and the task-group graph, fetched on demand.

The task graph is fetched only while the scheduler contains at most
``CLUSTERDASH_GRAPH_MAX_ITEMS`` tasks; above that it shows progress by
task prefix, which the snapshot already carries.
"""

from __future__ import annotations

from bokeh.layouts import column
from bokeh.models import (
    ColumnDataSource,
    FactorRange,
    HoverTool,
    Range1d,
)
from bokeh.plotting import figure
from django.conf import settings

from clusterdash.backends.types import Snapshot
from clusterdash.keys import key_to_text

from .panels import (
    BLACK,
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    SHARED,
    SKY,
    TOOLTIP_CHARS,
    VERMILION,
    YELLOW,
    Panel,
    shorten,
)
from .task_plots import TaskProgress, key_prefix

#: Node colours by task state; erred is black, as in Dask.
STATE_COLOURS = {
    "waiting": GREY,
    "queued": YELLOW,
    "processing": GREEN,
    "memory": VERMILION,
    "released": BLUE,
    "erred": BLACK,
    "no-worker": ORANGE,
}


def layered_layout(size: int, edges: list[list[int]]) -> tuple[list[int], list[int]]:
    """Place tasks left to right by dependency depth; return (x, y)."""
    depth = [0] * size
    dependents: list[list[int]] = [[] for _ in range(size)]
    incoming = [0] * size
    for source, target in edges:
        dependents[source].append(target)
        incoming[target] += 1
    ready = [i for i in range(size) if incoming[i] == 0]
    while ready:
        node = ready.pop()
        for target in dependents[node]:
            depth[target] = max(depth[target], depth[node] + 1)
            incoming[target] -= 1
            if incoming[target] == 0:
                ready.append(target)
    rows: dict[int, int] = {}
    y = []
    for node in range(size):
        y.append(rows.get(depth[node], 0))
        rows[depth[node]] = y[-1] + 1
    return depth, y


class TaskGraph(Panel):
    """Tasks as nodes and dependencies as edges, up to an item limit."""

    name = "graph"
    interval = 1.0

    def __init__(self, max_items: int) -> None:
        super().__init__()
        self.max_items = max_items
        self.counter = -1
        self.answer: dict = {}
        self.nodes = ColumnDataSource(
            {"x": [], "y": [], "key": [], "name": [], "state": [], "color": []}
        )
        self.edges = ColumnDataSource({"xs": [], "ys": []})
        self.figure = figure(
            title="Task graph",
            height=500,
            sizing_mode="stretch_width",
            tools="pan,wheel_zoom,box_zoom,reset",
            toolbar_location="above",
        )
        self.figure.multi_line("xs", "ys", source=self.edges, color=GREY, alpha=0.4)
        circles = self.figure.scatter(
            "x", "y", source=self.nodes, size=10, color="color", line_color=None
        )
        self.figure.add_tools(
            HoverTool(
                renderers=[circles],
                tooltips=[("Key", "@key"), ("Prefix", "@name"), ("State", "@state")],
            )
        )
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self.summary = TaskProgress()
        self.summary.notice.visible = False
        self.summary.figure.visible = False
        self.body = column(
            self.figure, self.summary.figure, sizing_mode="stretch_width"
        )

    async def fetch(self) -> None:
        # Always ask for the full graph: the shared result serves sessions
        # that have drawn different versions.
        self.answer = await SHARED.get("task_graph", self.max_items, -1)

    def update(self, snapshot: Snapshot) -> None:
        answer = self.answer
        size = answer.get("size", 0)
        if size > self.max_items:
            self.say(
                f"The scheduler holds {size:,} tasks, more than the "
                f"{self.max_items:,} this graph draws. Progress by task prefix "
                "is shown instead."
            )
            self.figure.visible = False
            self.summary.figure.visible = True
            self.summary.update(snapshot)
            self.counter = -1
            return
        self.figure.visible = True
        self.summary.figure.visible = False
        if size == 0:
            self.say("The scheduler holds no tasks.")
        else:
            self.say(None)
        if answer.get("counter") == self.counter or answer.get("tasks") is None:
            return
        self.counter = answer["counter"]
        tasks = answer["tasks"]
        edges = answer["edges"]
        x, y = layered_layout(len(tasks), edges)
        self.nodes.data = {
            "x": x,
            "y": y,
            "key": [shorten(key_to_text(key), TOOLTIP_CHARS) for key, _ in tasks],
            "name": [shorten(key_prefix(key)) for key, _ in tasks],
            "state": [state for _, state in tasks],
            "color": [STATE_COLOURS.get(state, GREY) for _, state in tasks],
        }
        self.edges.data = {
            "xs": [[x[a], x[b]] for a, b in edges],
            "ys": [[y[a], y[b]] for a, b in edges],
        }


class TaskGroups(Panel):
    """One bar per task group, split by state, in dependency order."""

    name = "groups"
    interval = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.groups: list = []
        self.source = ColumnDataSource(
            {
                "group": [],
                "state": [],
                "left": [],
                "right": [],
                "count": [],
                "color": [],
            }
        )
        self.figure = figure(
            title="Task groups",
            y_range=FactorRange(),
            x_range=Range1d(0, 1),
            height=300,
            sizing_mode="stretch_width",
            tools="",
            toolbar_location=None,
        )
        self.figure.hbar(
            y="group",
            left="left",
            right="right",
            height=0.8,
            color="color",
            source=self.source,
        )
        self.figure.add_tools(
            HoverTool(
                tooltips=[("Group", "@group"), ("State", "@state"), ("Tasks", "@count")]
            )
        )
        self.figure.xaxis.visible = False
        self.body = self.figure

    async def fetch(self) -> None:
        self.groups = await SHARED.get("task_groups")

    def update(self, snapshot: Snapshot) -> None:
        groups = [g for g in self.groups if sum(g["states"].values())]
        self.say(None if groups else "No task groups yet.")
        order = _dependency_order(groups)
        data: dict[str, list] = {name: [] for name in self.source.data}
        colours = {
            "memory": BLUE,
            "processing": YELLOW,
            "erred": BLACK,
            "released": SKY,
        }
        for group in order:
            total = sum(group["states"].values())
            left = 0.0
            for state, count in sorted(group["states"].items()):
                data["group"].append(shorten(group["name"]))
                data["state"].append(state)
                data["left"].append(left)
                data["right"].append(left + count / total)
                data["count"].append(count)
                data["color"].append(colours.get(state, GREY))
                left += count / total
        self.source.data = data
        factors = [shorten(g["name"]) for g in reversed(order)]
        if list(self.figure.y_range.factors) != factors:
            self.figure.y_range.factors = factors
        self.figure.height = max(160, 40 + 22 * len(order))


def _dependency_order(groups: list[dict]) -> list[dict]:
    """Order groups so each follows the groups it depends on, where possible."""
    by_name = {g["name"]: g for g in groups}
    placed: set[str] = set()
    order: list[dict] = []

    def visit(name: str, trail: set[str]) -> None:
        if name in placed or name in trail or name not in by_name:
            return
        trail.add(name)
        for dependency in by_name[name]["dependencies"]:
            visit(dependency, trail)
        placed.add(name)
        order.append(by_name[name])

    for name in by_name:
        visit(name, set())
    return order


def graph_max_items() -> int:
    """Return the task count above which the graph shows a summary."""
    return int(getattr(settings, "CLUSTERDASH_GRAPH_MAX_ITEMS", 5000))
