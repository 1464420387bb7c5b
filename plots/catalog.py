"""
The panels of each page and each individual plot.

Every page and plot is a Bokeh application registered under its URL name.
A new session builds fresh panels, so viewers never share Bokeh models.
"""

from __future__ import annotations

from collections.abc import Callable

from bokeh.document import Document
from bokeh.layouts import column, row
from bokeh.models import TabPanel, Tabs

from . import bokeh_server
from .action_plots import (
    AggregateAction,
    Contention,
    FinePerformanceMetrics,
    GroupProgress,
)
from .bokeh_server import PlotApp
from .event_plots import CountersTable, EventsPlot, ExceptionsTable, StealingTimeSeries
from .gpu_plots import GPUMemory, GPUUtilization
from .graph_plots import TaskGraph, TaskGroups, graph_max_items
from .host_plots import (
    CPUTimeseries,
    DiskBars,
    DiskTimeseries,
    MemoryTimeseries,
    NetworkBars,
    NetworkTimeseries,
    RMMMemory,
)
from .panels import Panel, install
from .profile_plots import Profile
from .shuffle_plots import Shuffling
from .system_plots import BandwidthTypes, BandwidthWorkers, SchedulerSystem
from .task_plots import ComputePerKey, MemoryByKey, TaskProgress, TaskStream
from .worker_plots import (
    ClusterMemory,
    CPUBars,
    OccupancyBars,
    ProcessingBars,
    TransferBytes,
    WorkersMemory,
)
from .worker_table import WorkerTable

#: Rectangles the long look-back task stream on ``/tasks`` keeps.
TASKS_PAGE_STREAM_LENGTH = 100_000


def _single(factory: Callable[[], Panel], title: str) -> Callable[[Document], None]:
    def build(doc: Document) -> None:
        panel = factory()
        doc.add_root(panel.root)
        install(doc, [panel], title)

    return build


def _status(doc: Document) -> None:
    cluster = ClusterMemory()
    workers = WorkersMemory()
    processing = ProcessingBars()
    cpu = CPUBars()
    transfer = TransferBytes()
    stream = TaskStream(rollover=1000)
    progress = TaskProgress()
    tabs = Tabs(
        tabs=[
            TabPanel(child=processing.root, title="Processing"),
            TabPanel(child=cpu.root, title="CPU"),
            TabPanel(child=transfer.root, title="Data Transfer"),
        ],
        sizing_mode="stretch_width",
    )
    doc.add_root(
        column(
            cluster.root,
            workers.root,
            tabs,
            stream.root,
            progress.root,
            sizing_mode="stretch_width",
        )
    )
    install(
        doc,
        [cluster, workers, processing, cpu, transfer, stream, progress],
        "Dask: Status",
    )


def _gpu(doc: Document) -> None:
    utilization = GPUUtilization()
    memory = GPUMemory()
    doc.add_root(column(utilization.root, memory.root, sizing_mode="stretch_width"))
    install(doc, [utilization, memory], "Dask: GPU")


def _stealing(doc: Document) -> None:
    series = StealingTimeSeries()
    events = EventsPlot("stealing", "Stealing events")
    doc.add_root(column(series.root, events.root, sizing_mode="stretch_width"))
    install(doc, [series, events], "Dask: Work Stealing")


def _shuffle(doc: Document) -> None:
    shuffling = Shuffling()
    memory = WorkersMemory()
    contention = Contention()
    network = NetworkTimeseries()
    disk = DiskTimeseries()
    doc.add_root(
        column(
            row(memory.root, contention.root, sizing_mode="stretch_width"),
            shuffling.root,
            network.root,
            disk.root,
            sizing_mode="stretch_width",
        )
    )
    install(doc, [shuffling, memory, contention, network, disk], "Dask: Shuffling")


def _graph() -> Panel:
    return TaskGraph(graph_max_items())


#: Navigation pages: URL name -> (title, document builder).
PAGES: dict[str, tuple[str, Callable[[Document], None]]] = {
    "status": ("Status", _status),
    "workers": ("Workers", _single(WorkerTable, "Dask: Workers")),
    "tasks": (
        "Tasks",
        _single(
            lambda: TaskStream(rollover=TASKS_PAGE_STREAM_LENGTH, title="Task Stream"),
            "Dask: Task Stream",
        ),
    ),
    "system": ("System", _single(SchedulerSystem, "Dask: Scheduler System Monitor")),
    "gpu": ("GPU", _gpu),
    "profile": ("Profile", _single(Profile, "Dask: Profile")),
    "graph": ("Graph", _single(_graph, "Dask: Task Graph")),
    "groups": ("Groups", _single(TaskGroups, "Dask: Task Groups Graph")),
    "stealing": ("Stealing", _stealing),
    "counters": ("Counters", _single(CountersTable, "Dask: Counters")),
    "events": (
        "Events",
        _single(
            lambda: EventsPlot("all", "Scheduler events"), "Dask: Scheduler Events"
        ),
    ),
    "exceptions": ("Exceptions", _single(ExceptionsTable, "Dask: Exceptions")),
    "profile-server": (
        "Profile Server",
        _single(lambda: Profile(server=True), "Dask: Profile of Event Loop"),
    ),
    "shuffle": ("Shuffle", _shuffle),
}

#: Individual plots: the part after ``individual-`` -> (class name, panel).
INDIVIDUAL: dict[str, tuple[str, Callable[[], Panel]]] = {
    "task-stream": ("TaskStream", TaskStream),
    "progress": ("TaskProgress", TaskProgress),
    "cluster-memory": ("ClusterMemory", ClusterMemory),
    "workers-memory": ("WorkersMemory", WorkersMemory),
    "workers-transfer-bytes": ("WorkersTransferBytes", TransferBytes),
    "cpu": ("CurrentLoad", CPUBars),
    "nprocessing": ("CurrentLoad", ProcessingBars),
    "occupancy": ("Occupancy", OccupancyBars),
    "workers": ("WorkerTable", WorkerTable),
    "memory-by-key": ("MemoryByKey", MemoryByKey),
    "compute-time-per-key": ("ComputePerKey", ComputePerKey),
    "gpu-memory": ("GPUCurrentLoad", GPUMemory),
    "gpu-utilization": ("GPUCurrentLoad", GPUUtilization),
    "graph": ("TaskGraph", _graph),
    "groups": ("TaskGroupGraph", TaskGroups),
    "profile": ("ProfileTimePlot", Profile),
    "profile-server": ("ProfileServer", lambda: Profile(server=True)),
    "bandwidth-types": ("BandwidthTypes", BandwidthTypes),
    "bandwidth-workers": ("BandwidthWorkers", BandwidthWorkers),
    "scheduler-system": ("SystemMonitor", SchedulerSystem),
    "exceptions": ("ExceptionsTable", ExceptionsTable),
    "group-progress": ("TaskGroupProgress", GroupProgress),
    "workers-network": ("WorkerNetworkBandwidth", NetworkBars),
    "workers-disk": ("WorkerNetworkBandwidth", DiskBars),
    "workers-network-timeseries": ("SystemTimeseries", NetworkTimeseries),
    "workers-disk-timeseries": ("SystemTimeseries", DiskTimeseries),
    "workers-cpu-timeseries": ("SystemTimeseries", CPUTimeseries),
    "workers-memory-timeseries": ("SystemTimeseries", MemoryTimeseries),
    "aggregate-time-per-action": ("AggregateAction", AggregateAction),
    "contention": ("Contention", Contention),
    "fine-performance-metrics": (
        "FinePerformanceMetrics",
        FinePerformanceMetrics,
    ),
    "rmm-memory": ("RMMMemoryUsage", RMMMemory),
}


#: Individual plots that older Dask versions served, by the plot that now
#: shows the same data. They are served for old links and bookmarks, but
#: ``/individual-plots.json`` lists only Dask's current names.
ALIASES: dict[str, str] = {
    "nbytes": "cluster-memory",
}


def individual_app_name(name: str) -> str:
    """Return the registry name of the individual plot ``name``."""
    return f"individual-{name}"


def display_name(name: str) -> str:
    """Return Dask's display name for an individual plot: 'Individual Cpu'."""
    return " ".join(word.capitalize() for word in f"individual-{name}".split("-"))


def register_all() -> None:
    """Register every page and individual plot with the Bokeh server."""
    for name, (title, build) in PAGES.items():
        bokeh_server.register(PlotApp(name=name, title=title, build=build))
    for name, (component, factory) in INDIVIDUAL.items():
        bokeh_server.register(
            PlotApp(
                name=individual_app_name(name),
                title=f"Dask: {component}",
                build=_single(factory, f"Dask: {component}"),
            )
        )


register_all()
