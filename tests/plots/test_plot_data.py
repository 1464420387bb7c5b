"""Data contracts of the plots, checked against the real session cluster."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from bokeh.core.property.vectorization import Value
from bokeh.document import Document
from bokeh.models import ColumnDataSource, Div, Glyph
from bokeh.protocol import Protocol
from distributed import Event

from plots import panels
from plots.catalog import INDIVIDUAL, PAGES
from plots.graph_plots import TaskGroups
from plots.panels import LABEL_CHARS, TOOLTIP_CHARS, Panel, shorten
from plots.task_plots import (
    ComputePerKey,
    MemoryByKey,
    TaskProgress,
    TaskStream,
    key_prefix,
)
from plots.worker_plots import (
    ClusterMemory,
    CPUBars,
    ProcessingBars,
    WorkersMemory,
)
from plots.worker_table import WorkerTable

HOSTILE_KEYS = [
    "<img src=x onerror=alert(1)>",
    ("<script>alert(2)</script>", 0),
    '"><svg onload=alert(3)>',
]


def _inc(x):
    return x + 1


def _wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout} s")
        time.sleep(0.1)


def test_key_prefix_follows_dask_rule():
    assert key_prefix("inc-5c8f10ab4e3b2a1c") == "inc"
    assert key_prefix(("getitem-deadbeef", 3)) == "getitem"
    assert key_prefix("read-csv-0a1b2c3d") == "read-csv"
    assert key_prefix("<img src=x onerror=alert(1)>") == "<img src=x onerror=alert(1)>"
    assert key_prefix(7) == "7"


def test_shorten_bounds_and_separates():
    assert shorten("inc") == "inc"
    assert shorten("x" * LABEL_CHARS) == "x" * LABEL_CHARS
    first = shorten("x" * 3000 + "a")
    second = shorten("x" * 3000 + "b")
    assert len(first) == LABEL_CHARS
    assert len(second) == LABEL_CHARS
    assert first != second
    assert first.startswith("x" * 80)
    assert first == shorten("x" * 3000 + "a")
    assert len(shorten("y" * 5000, TOOLTIP_CHARS)) == TOOLTIP_CHARS


def _message_bytes(message) -> int:
    """Return the bytes a Bokeh protocol message takes on the websocket."""
    size = len(message.header_json) + len(message.content_json)
    return size + sum(len(buffer.to_bytes()) for buffer in message.buffers)


def test_long_keys_keep_updates_small(backend, dask_client, wait_for_snapshot):
    wait_for_snapshot(lambda s: len(s.workers) == 2)
    # Ten 3,000-character prefixes that differ only in their last letter.
    prefixes = ["wide" + "x" * 2996 + letter for letter in "abcdefghij"]
    keys = [f"{prefix}-{i}" for prefix in prefixes for i in range(4)]
    futures = dask_client.map(_inc, range(len(keys)), key=keys)
    dask_client.gather(futures)
    snapshot = wait_for_snapshot(
        lambda s: {p.name for p in s.prefixes if p.total} >= set(prefixes)
    )

    stream = TaskStream(rollover=1_000_000)
    panels = [stream, TaskProgress(), MemoryByKey(), ComputePerKey(), TaskGroups()]
    doc = Document()
    for panel in panels:
        doc.add_root(panel.root)
    events = []
    doc.on_change(events.append)

    def streamed():
        for panel in panels:
            asyncio.run(panel.refresh(backend.snapshot(), None))
        wanted = {shorten(key, TOOLTIP_CHARS) for key in keys}
        return wanted <= set(stream.source.data["key"])

    _wait_until(streamed)
    for _ in range(3):
        snapshot = backend.snapshot()
        for panel in panels:
            asyncio.run(panel.refresh(snapshot, None))

    assert events
    protocol = Protocol()
    largest = max(
        _message_bytes(protocol.create("PATCH-DOC", [event])) for event in events
    )
    assert largest < 64 * 1024, f"an update message has {largest:,} bytes"
    whole = _message_bytes(protocol.create("PULL-DOC-REPLY", "1", doc))
    assert whole < 256 * 1024, f"the whole document has {whole:,} bytes"
    for source in doc.select({"type": ColumnDataSource}):
        for name, column in source.data.items():
            texts = [value for value in column if isinstance(value, str)]
            longest = max(map(len, texts), default=0)
            assert longest <= TOOLTIP_CHARS, f"column {name} has {longest}"
    for panel in panels[1:]:
        factors = list(panel.figure.y_range.factors)
        assert max(map(len, factors)) <= LABEL_CHARS, panel.name
        if isinstance(panel, ComputePerKey):
            # It leaves out prefixes under 2 % of the largest compute time,
            # which these quick tasks are once earlier tests ran slow ones.
            continue
        wide = [f for f in factors if f.startswith("wide")]
        assert len(wide) == len(prefixes), f"{panel.name}: {len(wide)} prefixes"
    del futures


def test_worker_panels_list_every_worker(backend, cluster, wait_for_snapshot):
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    addresses = sorted(w.address for w in snapshot.workers)
    for panel in (CPUBars(), ProcessingBars(), WorkersMemory()):
        panel.run(snapshot, None)
        assert sorted(set(panel.source.data["worker"])) == addresses, panel.name
        assert not panel.notice.visible, panel.name
    table = WorkerTable()
    table.run(snapshot, None)
    assert table.source.data["name"][0] == "Total (2)"
    assert sorted(table.source.data["address"][1:]) == addresses
    cluster_memory = ClusterMemory()
    cluster_memory.run(snapshot, None)
    assert cluster_memory.figure.title.text.startswith("Bytes stored: ")
    assert sum(cluster_memory.source.data["bytes"]) >= sum(
        w.memory for w in snapshot.workers
    )


def test_task_stream_grows_with_finished_tasks(backend, dask_client, wait_for_snapshot):
    wait_for_snapshot(lambda s: len(s.workers) == 2)
    # Earlier tests may have filled the process's stream window, so keep
    # every row here instead of rolling over at 1000.
    stream = TaskStream(rollover=1_000_000)
    snapshot = backend.snapshot()
    stream.run(snapshot, None)
    before = len(stream.source.data["x"])
    futures = dask_client.map(_inc, range(20), key=[f"plot-inc-{i}" for i in range(20)])
    dask_client.gather(futures)

    def grew():
        stream.run(backend.snapshot(), None)
        return {f"plot-inc-{i}" for i in range(20)} <= set(stream.source.data["key"])

    _wait_until(grew)
    assert len(stream.source.data["x"]) >= before + 20
    assert "plot-inc-3" in stream.source.data["key"]
    assert "plot-inc" in stream.source.data["name"]
    assert len(set(map(len, stream.source.data.values()))) == 1
    del futures


def test_hostile_keys_reach_columns_as_text(backend, dask_client, wait_for_snapshot):
    wait_for_snapshot(lambda s: len(s.workers) == 2)
    stream = TaskStream()
    stream.run(backend.snapshot(), None)
    futures = [
        dask_client.submit(_inc, i, key=key) for i, key in enumerate(HOSTILE_KEYS)
    ]
    dask_client.gather(futures)
    wanted = {"<img src=x onerror=alert(1)>", "('<script>alert(2)</script>', 0)"}

    def seen():
        stream.run(backend.snapshot(), None)
        return wanted <= set(stream.source.data["key"])

    _wait_until(seen)
    assert "<script>alert(2)</script>" in stream.source.data["name"]
    del futures


def test_progress_counts_states_by_prefix(backend, dask_client, wait_for_snapshot):
    event = Event("plots-progress-gate", client=dask_client)

    def gated(x, name="plots-progress-gate"):
        from distributed import Event

        Event(name).wait(30)
        return x

    futures = dask_client.map(gated, range(6), key=[f"gated-{i}" for i in range(6)])
    try:
        snapshot = wait_for_snapshot(
            lambda s: any(p.name == "gated" and p.total == 6 for p in s.prefixes)
        )
        progress = TaskProgress()
        progress.run(snapshot, None)
        rows = [i for i, p in enumerate(progress.source.data["prefix"]) if p == "gated"]
        assert rows
        counts = sum(progress.source.data["count"][i] for i in rows)
        assert counts == 6
        assert "gated" in progress.figure.y_range.factors
        assert progress.figure.title.text.startswith("Progress -- total: ")
    finally:
        event.set()
    dask_client.gather(futures)
    snapshot = wait_for_snapshot(
        lambda s: any(
            p.name == "gated" and p.states.get("memory") == 6 for p in s.prefixes
        )
    )
    by_key = MemoryByKey()
    by_key.run(snapshot, None)
    assert "gated" in by_key.source.data["prefix"]
    compute = ComputePerKey()
    compute.run(snapshot, None)
    # The plot leaves out prefixes under MIN_SHARE of the largest compute
    # time, and slower tasks of earlier tests may push these quick ones out.
    gated = next(p for p in snapshot.prefixes if p.name == "gated")
    largest = max(p.compute_seconds for p in snapshot.prefixes)
    seconds = gated.compute_seconds
    expected_in_plot = seconds > 0 and seconds >= largest * ComputePerKey.MIN_SHARE
    assert compute.source.data["prefix"]
    assert ("gated" in compute.source.data["prefix"]) == expected_in_plot
    del futures


def test_failing_panel_shows_own_notice(backend, settings, wait_for_snapshot, caplog):
    settings.CLUSTERDASH_PLOTS_FAILING = ["cpu"]
    panels._last_logged.pop("cpu", None)
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    failing = CPUBars()
    healthy = ProcessingBars()
    for _ in range(3):
        failing.run(snapshot, None)
        healthy.run(snapshot, None)
    assert failing.notice.visible
    assert failing.notice.text.startswith("This plot failed to update")
    assert not healthy.notice.visible
    assert len(healthy.source.data["worker"]) == 2
    records = [r for r in caplog.records if "Plot cpu failed" in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is not None
    # A minute after the last record, the next failure is logged again.
    panels._last_logged["cpu"] -= panels.ERROR_LOG_INTERVAL + 1
    failing.run(snapshot, None)
    records = [r for r in caplog.records if "Plot cpu failed" in r.getMessage()]
    assert len(records) == 2


def test_failing_panel_leaves_page_live(backend, settings, wait_for_snapshot):
    settings.CLUSTERDASH_PLOTS_FAILING = ["task-stream"]
    wait_for_snapshot(lambda s: len(s.workers) == 2)
    doc = Document()
    PAGES["status"][1](doc)
    for callback in doc.session_callbacks:
        asyncio.run(callback.callback())
    notices = [d.text for d in doc.select({"type": Div}) if d.visible]
    failed = [text for text in notices if text.startswith("This plot failed")]
    assert failed == [
        "This plot failed to update: RuntimeError: plot task-stream was set to fail"
    ]
    # The worker bars beside the failing task stream still list both workers.
    workers = [
        set(source.data["worker"])
        for source in doc.select({"type": ColumnDataSource})
        if "worker" in source.data
    ]
    assert any(len(names) == 2 for names in workers)


#: Colours a plot may use besides the palette: the neutral grey, and white
#: for outlines between rectangles.
NEUTRAL_COLOURS = {panels.GREY, "white", None}


def _fixed_colours(model) -> set:
    colours = set()
    values = model.properties_with_values()
    for name in ("fill_color", "line_color"):
        # A column reference is a Field, and only a Value is a fixed colour.
        spec = values.get(name)
        if isinstance(spec, Value):
            colours.add(spec.value)
    return colours


@pytest.mark.parametrize("name", sorted(INDIVIDUAL))
def test_plot_colours_come_from_palette(name, backend, dask_client, wait_for_snapshot):
    futures = dask_client.map(_inc, range(10), key=[f"palette-{i}" for i in range(10)])
    dask_client.gather(futures)
    snapshot = wait_for_snapshot(lambda s: any(p.name == "palette" for p in s.prefixes))
    panel: Panel = INDIVIDUAL[name][1]()
    asyncio.run(panel.refresh(snapshot, None))
    allowed = set(panels.PALETTE) | NEUTRAL_COLOURS
    used = set()
    for model in panel.root.references():
        if isinstance(model, ColumnDataSource):
            used.update(model.data.get("color", []))
        elif isinstance(model, Glyph):
            used.update(_fixed_colours(model))
    assert used <= allowed, used - allowed
    del futures


def test_unreachable_scheduler_is_worded():
    panel = TaskProgress()
    panel.run(None, "Cannot reach the scheduler at tcp://127.0.0.1:1: refused")
    assert panel.notice.visible
    assert panel.notice.text.startswith("Cannot reach the scheduler")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_document_fills_sources(name, backend, wait_for_snapshot):
    wait_for_snapshot(lambda s: len(s.workers) == 2)
    doc = Document()
    PAGES[name][1](doc)
    callbacks = doc.session_callbacks
    assert callbacks, "page has no periodic callback"
    for callback in callbacks:
        asyncio.run(callback.callback())
    sources = list(doc.select({"type": ColumnDataSource}))
    assert sources
    notices = [d for d in doc.select({"type": Div}) if d.visible]
    for div in notices:
        assert div.text != "Waiting for the first update."


@pytest.mark.parametrize("name", sorted(INDIVIDUAL))
def test_individual_panels_update(name, backend, wait_for_snapshot):
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    panel: Panel = INDIVIDUAL[name][1]()
    asyncio.run(panel.refresh(snapshot, None))
    if panel.notice.visible:
        assert not panel.notice.text.startswith("This plot failed"), panel.notice.text
        assert panel.notice.text != "Waiting for the first update."


@pytest.mark.parametrize("name", ["cpu", "nprocessing", "workers", "cluster-memory"])
def test_no_workers_is_worded(name, backend, wait_for_snapshot):
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    empty = dataclasses.replace(snapshot, workers=())
    panel: Panel = INDIVIDUAL[name][1]()
    panel.run(empty, None)
    assert panel.notice.visible
    assert panel.notice.text == "No workers are connected to the scheduler."
    panel.run(snapshot, None)
    assert not panel.notice.visible


def test_gpu_plots_say_no_gpu(backend, wait_for_snapshot):
    snapshot = wait_for_snapshot(lambda s: len(s.workers) == 2)
    if any(w.metrics.get("gpu") for w in snapshot.workers):
        pytest.skip("the workers report GPUs")
    for name in ("gpu-memory", "gpu-utilization"):
        panel: Panel = INDIVIDUAL[name][1]()
        panel.run(snapshot, None)
        assert panel.notice.visible
        assert panel.notice.text.startswith("No GPU was found")
