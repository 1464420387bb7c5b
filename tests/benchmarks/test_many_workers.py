"""
Run the many-workers benchmark at a small size and check what it records.

The run starts its own scheduler, workers and daphne on 127.0.0.1 and
writes to a temporary page, never to ``benchmarks/README.md``. No timing is
checked, only the page sizes, rows and plot messages it records.
"""

from __future__ import annotations

import json

import pytest

from .runner import run_benchmark

KEYS = 300

# Seconds the small run may take. It took 35 s on two cores at a load
# average of 13.
RUN_TIMEOUT = 600

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Run ``many_workers.py`` with 2 workers once; return page and results."""
    output = tmp_path_factory.mktemp("many") / "page.md"
    args = ["--workers", "2", "--keys", str(KEYS), "--requests", "2"]
    args += ["--update-repeats", "2"]
    run = run_benchmark("many_workers.py", args, output, RUN_TIMEOUT)
    results = json.loads((output.parent / "results" / "many-workers.json").read_text())
    return {**run, "results": results}


def test_every_page_answered(small_run):
    for label, entries in small_run["results"]["pages"].items():
        for name in ("clusterdash", "dask"):
            assert entries[name]["status"] == 200, (label, name)
            assert "error" not in entries[name], (label, name)
            assert entries[name]["samples"] == 2, (label, name)


def test_worker_page_keys_paged(small_run):
    pages = small_run["results"]["pages"]
    clusterdash = pages["worker"]["clusterdash"]
    dask = pages["worker"]["dask"]
    assert clusterdash["task_links"] == 200
    assert clusterdash["has_next"] is True
    assert clusterdash["pages"] == 2
    assert dask["task_links"] == KEYS
    assert dask["has_next"] is False


def test_workers_table_rows(small_run):
    workers = small_run["results"]["pages"]["workers"]
    assert workers["clusterdash"]["rows"] == 2
    assert workers["dask"]["rows"] == 2


def test_plot_update_sizes(small_run):
    update = small_run["results"]["plot_update"]
    assert update["workers"] == 2
    assert update["none"]["events"] == 0
    assert update["none"]["patch_bytes"] == 0
    assert update["one"]["patched_rows"] == 3
    assert update["all"]["patched_rows"] == 6
    assert update["one"]["patch_bytes"] < update["all"]["patch_bytes"]


def test_page_section_written(small_run):
    page = small_run["page"]
    assert page.startswith("# Benchmarks\n\nKept text.\n")
    assert page.count("<!-- many_workers.py results: begin -->") == 1
    assert page.count("<!-- many_workers.py results: end -->") == 1
    assert "| worker page `/info/worker/<address>.html` | dask |" in page


def test_readme_left_alone(small_run):
    assert small_run["readme_after"] == small_run["readme_before"]
