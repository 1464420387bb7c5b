"""
Run the side-by-side benchmark at its tiny scale and check its page.

The run starts its own scheduler, workers, daphne and Chromium on 127.0.0.1
and writes to a temporary page, never to ``benchmarks/README.md``.
"""

from __future__ import annotations

import json
import re

import pytest

from .runner import run_benchmark

NUMBER = re.compile(r"^-?[\d,]+(\.\d+)?$")

# Seconds the tiny run may take. It took 4.5 minutes on two cores at a load
# average of 12, and more than 10 minutes at a load average of 25.
RUN_TIMEOUT = 900

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Run ``compare.py --scale tiny`` once; return its page and results."""
    output = tmp_path_factory.mktemp("compare") / "page.md"
    run = run_benchmark("compare.py", ["--scale", "tiny"], output, RUN_TIMEOUT)
    results = json.loads((output.parent / "results" / "compare-tiny.json").read_text())
    return {**run, "results": results}


def table_after(page: str, header: str) -> list[list[str]]:
    """Return the cells of the data rows of the table under ``header``."""
    lines = page.splitlines()
    start = lines.index(header) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_comparison_rows_have_both_numbers(tiny_run):
    rows = table_after(
        tiny_run["page"], "| measure | clusterdash | Dask | clusterdash / Dask |"
    )
    assert len(rows) >= 40
    for measure, clusterdash, dask, _ratio in rows:
        assert NUMBER.match(clusterdash), f"{measure}: clusterdash {clusterdash!r}"
        assert NUMBER.match(dask), f"{measure}: Dask {dask!r}"


def test_latency_rows_cover_endpoints(tiny_run):
    latency = tiny_run["results"]["latency"]
    for path in (
        "/health",
        "/metrics",
        "/json/counts.json",
        "/info/main/workers.html",
        "/info/task/held-0.html",
        "/individual-plots.json",
        "/status",
    ):
        for dashboard in ("clusterdash", "dask"):
            assert latency[path][dashboard]["requests_per_s"] > 0, (path, dashboard)


def test_wrk_saw_only_success(tiny_run):
    latency = tiny_run["results"]["latency"]
    for path, by_dashboard in latency.items():
        for dashboard, values in by_dashboard.items():
            assert values.get("non_2xx", 0) == 0, (path, dashboard)


def test_targets_are_judged(tiny_run):
    rows = table_after(tiny_run["page"], "| target | measured | result |")
    assert len(rows) == 8
    judged = {target: result for target, _measured, result in rows}
    assert judged.pop("`/info/main/workers.html` p99 under 100 ms") == (
        "large scale only"
    )
    for target, result in judged.items():
        if target.endswith("half of Dask's"):
            assert result == "large scale only", target
        else:
            assert result in ("met", "missed"), target


def test_page_keeps_other_text(tiny_run):
    page = tiny_run["page"]
    assert page.startswith("# Benchmarks\n\nKept text.\n")
    assert page.count("<!-- compare.py results: begin -->") == 1
    assert page.count("<!-- compare.py results: end -->") == 1


def test_readme_left_alone(tiny_run):
    assert tiny_run["readme_after"] == tiny_run["readme_before"]


def test_map_keeps_viewers_off_cluster_cpus(tiny_run):
    mapped = tiny_run["results"]["map"]
    placement = mapped["placement"]
    assert placement is not None
    assert set(placement["cluster"]).isdisjoint(placement["viewers"])
    assert "Map placement: the scheduler" in tiny_run["page"]
    (timed,) = mapped["rounds"]
    for dashboard in ("clusterdash", "dask"):
        assert timed[dashboard]["browser_cpu_seconds"] > 0, dashboard
    assert timed["none"]["browser_cpu_seconds"] == 0
