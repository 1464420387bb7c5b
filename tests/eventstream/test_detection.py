"""Event detection between two snapshots, on a real snapshot as the base."""

from __future__ import annotations

import dataclasses

from clusterdash.backends.types import ClientSummary, TopicTail
from info.consumers import snapshot_messages


def with_clients(snapshot, *clients):
    return dataclasses.replace(snapshot, client_list=tuple(clients))


def test_same_snapshot_gives_nothing(backend):
    snapshot = backend.snapshot()
    assert snapshot_messages(snapshot, snapshot) == []


def test_new_scheduler_id_is_restart(backend):
    before = backend.snapshot()
    scheduler = dataclasses.replace(before.scheduler, id="Scheduler-new")
    after = dataclasses.replace(before, scheduler=scheduler)
    assert snapshot_messages(before, after) == [{"name": "restart"}]


def test_restart_workers_event_is_restart(backend):
    base = backend.snapshot()
    before = dataclasses.replace(base, all_topic=TopicTail(3, ("a", "b", "c")))
    after = dataclasses.replace(
        base, all_topic=TopicTail(4, ("b", "c", "restart-workers"))
    )
    assert snapshot_messages(before, after) == [{"name": "restart"}]


def test_worker_changes(backend):
    base = backend.snapshot()
    first, second = base.workers[0], base.workers[1]
    before = dataclasses.replace(base, workers=(first,))
    after = dataclasses.replace(base, workers=(second,))
    assert snapshot_messages(before, after) == [
        {"worker": first.address, "name": "remove_worker"},
        {"worker": second.address, "name": "add_worker"},
    ]


def test_client_changes_and_graphs(backend):
    base = backend.snapshot()
    old = ClientSummary("Client-old", 0, TopicTail(1, ("add-client",)))
    busy_before = ClientSummary("Client-busy", 1, TopicTail(2, ("x", "update-graph")))
    busy_after = ClientSummary(
        "Client-busy",
        3,
        TopicTail(5, ("x", "update-graph", "update-graph", "other", "update-graph")),
    )
    new = ClientSummary("Client-new", 1, TopicTail(1, ("update-graph",)))
    before = with_clients(base, old, busy_before)
    after = with_clients(base, busy_after, new)
    assert snapshot_messages(before, after) == [
        {"client": "Client-old", "name": "remove_client"},
        {"client": "Client-new", "name": "add_client"},
        {"client": "Client-busy", "name": "update_graph"},
        {"client": "Client-busy", "name": "update_graph"},
        {"client": "Client-new", "name": "update_graph"},
    ]


def test_short_lived_client_from_all_topic(backend):
    base = backend.snapshot()
    before = dataclasses.replace(base, all_topic=TopicTail(1, ("x",), ("",)))
    after = dataclasses.replace(
        base,
        all_topic=TopicTail(
            3,
            ("x", "add-client", "remove-client"),
            ("", "Client-brief", "Client-brief"),
        ),
    )
    assert snapshot_messages(before, after) == [
        {"client": "Client-brief", "name": "add_client"},
        {"client": "Client-brief", "name": "remove_client"},
    ]


def test_topic_and_set_changes_not_doubled(backend):
    base = backend.snapshot()
    first, second = base.workers[0], base.workers[1]
    before = dataclasses.replace(
        base, workers=(first,), all_topic=TopicTail(1, ("x",), ("",))
    )
    after = dataclasses.replace(
        base,
        workers=(first, second),
        all_topic=TopicTail(2, ("x", "add-worker"), ("", second.address)),
    )
    assert snapshot_messages(before, after) == [
        {"worker": second.address, "name": "add_worker"}
    ]
