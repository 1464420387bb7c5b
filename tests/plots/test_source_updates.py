"""The per-worker plots send only the rows of the workers that changed."""

from __future__ import annotations

import dataclasses

import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsPatchedEvent

from plots.worker_plots import CPUBars, WorkersMemory

#: Workers in the widened snapshot, so that one worker is a small share.
WORKERS = 40


@pytest.fixture
def snapshot(wait_for_snapshot):
    """Return a snapshot of the session cluster widened to ``WORKERS`` workers."""
    real = wait_for_snapshot(lambda s: len(s.workers) == 2)
    template = real.workers[0]
    workers = tuple(
        dataclasses.replace(
            template,
            address=f"tcp://127.0.0.1:{20000 + index}",
            name=f"worker-{index:02d}",
            # Every even worker has no results, so its managed segment is empty.
            managed_bytes=1000 * index if index % 2 else 0,
            memory=max(template.memory, 10**6) + 1000 * index,
            cpu=float(index),
        )
        for index in range(WORKERS)
    )
    return dataclasses.replace(real, workers=workers)


def _change(snapshot, indexes, **fields):
    workers = [
        dataclasses.replace(w, **{k: getattr(w, k) + v for k, v in fields.items()})
        if index in indexes
        else w
        for index, w in enumerate(snapshot.workers)
    ]
    return dataclasses.replace(snapshot, workers=tuple(workers))


def _source_events(panel, snapshot):
    """Update ``panel`` with ``snapshot`` and return its source's events."""
    doc = Document()
    doc.add_root(panel.root)
    events = []
    doc.on_change(events.append)
    panel.update(snapshot)
    return [e for e in events if getattr(e, "model", None) is panel.source]


def _fresh_data(factory, snapshot):
    panel = factory()
    panel.update(snapshot)
    return {name: list(column) for name, column in panel.source.data.items()}


@pytest.mark.parametrize(
    ("factory", "field", "index"),
    [
        (WorkersMemory, "managed_bytes", 7),
        (WorkersMemory, "managed_bytes", 8),
        (CPUBars, "cpu", 7),
    ],
    ids=["workers-memory", "workers-memory-first-result", "cpu"],
)
def test_one_changed_worker_is_patched(snapshot, factory, field, index):
    panel = factory()
    panel.update(snapshot)
    changed = _change(snapshot, {index}, **{field: 5000})
    events = _source_events(panel, changed)

    assert len(events) == 1
    assert isinstance(events[0], ColumnsPatchedEvent)
    rows = {index for values in events[0].patches.values() for index, _ in values}
    assert rows
    workers = {panel.source.data["worker"][index] for index in rows}
    assert workers == {snapshot.workers[index].address}
    data = {name: list(column) for name, column in panel.source.data.items()}
    assert data == _fresh_data(factory, changed)


def test_empty_segment_is_transparent(snapshot):
    panel = WorkersMemory()
    panel.update(snapshot)
    data = panel.source.data
    rows = [
        (data["segment"][i], data["bytes"][i], data["alpha"][i])
        for i, worker in enumerate(data["worker"])
        if worker == snapshot.workers[8].address
    ]
    assert [segment for segment, _, _ in rows] == [
        "managed",
        "unmanaged",
        "spilled to disk",
    ]
    assert rows[0][1:] == (0, 0.0)
    assert rows[1][2] > 0


def test_unchanged_snapshot_sends_nothing(snapshot):
    panel = WorkersMemory()
    panel.update(snapshot)
    assert _source_events(panel, snapshot) == []


def test_most_workers_changed_replaces_data(snapshot):
    panel = WorkersMemory()
    panel.update(snapshot)
    changed = _change(snapshot, set(range(WORKERS)), managed_bytes=5000)
    events = _source_events(panel, changed)

    assert len(events) == 1
    assert isinstance(events[0], ColumnDataChangedEvent)
    data = {name: list(column) for name, column in panel.source.data.items()}
    assert data == _fresh_data(WorkersMemory, changed)


def test_new_worker_replaces_data(snapshot):
    panel = WorkersMemory()
    panel.update(snapshot)
    extra = dataclasses.replace(snapshot.workers[0], address="tcp://127.0.0.1:29999")
    grown = dataclasses.replace(snapshot, workers=(*snapshot.workers, extra))
    events = _source_events(panel, grown)

    assert [type(e) for e in events] == [ColumnDataChangedEvent]
    assert set(panel.source.data["worker"]) == {w.address for w in grown.workers}


async def test_same_snapshot_skips_update(snapshot):
    panel = CPUBars()
    drawn = []
    update = panel.update
    panel.update = lambda s: (drawn.append(s), update(s))

    await panel.refresh(snapshot, None)
    await panel.refresh(snapshot, None)
    assert len(drawn) == 1

    # The next poll brings a new snapshot object, even with equal data.
    await panel.refresh(dataclasses.replace(snapshot), None)
    assert len(drawn) == 2
