"""
The bookkeeping of the timed maps, without running a cluster.

The maps themselves run in the tiny comparison run of ``test_compare.py``.
"""

from __future__ import annotations

import json
import sys
import time

import psutil
import pytest

from .runner import PROJECT

# The benchmark scripts import each other by top-level name.
sys.path.insert(0, str(PROJECT / "benchmarks"))
try:
    import compare
    import map_rounds
    import measures
    import report
finally:
    sys.path.pop(0)


def test_map_rounds_rotate_conditions():
    orders = [map_rounds.round_order(index) for index in range(3)]
    assert [order[0] for order in orders] == ["none", "clusterdash", "dask"]
    for order in orders:
        assert sorted(order) == sorted(map_rounds.CONDITIONS)


def run(seconds):
    return {
        "seconds": seconds,
        "scheduler_cpu_seconds": 1.0,
        "daphne_cpu_seconds": 1.0,
        "browser_cpu_seconds": 1.0,
        "idle_after": 1.0,
    }


def test_map_slowdown_is_taken_per_round():
    # The second round is twice as slow throughout; per-round slowdowns
    # are unaffected by that drift.
    timed = [
        {"none": run(100), "clusterdash": run(102), "dask": run(120)},
        {"none": run(200), "clusterdash": run(204), "dask": run(240)},
    ]
    summary = map_rounds.summarize(timed)
    assert summary["clusterdash"]["slowdown_pct"] == pytest.approx(2.0)
    assert summary["dask"]["slowdown_max_pct"] == pytest.approx(20.0)
    assert summary["none"]["seconds_min"] == 100


def test_kept_maps_say_when_they_ran(tmp_path):
    earlier = {
        "date": "2026-12-04 22:24 UTC",
        "command": "python benchmarks/compare.py --scale large",
        "map": {"rounds": [{}, {}], "summary": {}},
    }
    results = tmp_path / "compare-large.json"
    results.write_text(json.dumps(earlier))

    mapped = compare.kept_maps(results)
    text = report.map_history({"date": "2026-12-05 07:00 UTC", "map": mapped})

    assert "2 round(s)" in text
    assert "timed on 2026-12-04 22:24 UTC" in text
    assert "`python benchmarks/compare.py --scale large`" in text
    # Maps timed in the run itself need no such sentence.
    fresh = {"date": "2026-12-05 07:00 UTC", "map": {"rounds": [{}]}}
    assert "timed on" not in report.map_history(fresh)


def test_busy_control_is_a_fourth_condition():
    conditions = (*map_rounds.CONDITIONS, map_rounds.BUSY)
    orders = [map_rounds.round_order(index, conditions) for index in range(4)]
    assert [order[0] for order in orders] == list(conditions)

    timed = [
        {"none": run(100), "clusterdash": run(105), "dask": run(130), "busy": run(104)},
        {"none": run(100), "clusterdash": run(106), "dask": run(120), "busy": run(106)},
    ]
    mapped = {
        "rounds": timed,
        "busy_share": 0.4,
        "summary": map_rounds.summarize(timed),
    }
    assert mapped["summary"]["busy"]["slowdown_pct"] == pytest.approx(5.0)
    rows = {label: values for label, *values in report.round_rows(mapped)}
    control = "map slowdown, no tab, 40 % of a CPU busy on the viewers' CPU, median (%)"
    assert rows[control] == [pytest.approx(5.0)] * 2
    assert "and the busy-loop control" in report.map_history({"map": mapped})
    # Maps timed without the control have no such rows.
    del mapped["summary"]["busy"]
    assert not any("busy" in label for label, *_ in report.round_rows(mapped))


def test_busy_loop_uses_the_cpu_and_stops():
    with measures.busy_loop(0.5) as loop:
        (pid,) = loop.pids
        time.sleep(1.0)
        used = loop.cpu_seconds()
    assert used > 0.1
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
