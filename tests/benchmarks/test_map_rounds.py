"""
The bookkeeping of the timed maps, without running a cluster.

The maps themselves run in the tiny comparison run of ``test_compare.py``.
"""

from __future__ import annotations

import json
import sys

import pytest

from .runner import PROJECT

# The benchmark scripts import each other by top-level name.
sys.path.insert(0, str(PROJECT / "benchmarks"))
try:
    import compare
    import map_rounds
    import report
finally:
    sys.path.pop(0)


def test_map_rounds_rotate_conditions():
    orders = [map_rounds.round_order(index) for index in range(3)]
    assert [order[0] for order in orders] == ["none", "clusterdash", "dask"]
    for order in orders:
        assert sorted(order) == sorted(map_rounds.CONDITIONS)


def test_map_slowdown_is_taken_per_round():
    def run(seconds):
        return {
            "seconds": seconds,
            "scheduler_cpu_seconds": 1.0,
            "daphne_cpu_seconds": 1.0,
            "browser_cpu_seconds": 1.0,
            "idle_after": 1.0,
        }

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
