"""Run a benchmark script as the tests of its page do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
README = PROJECT / "benchmarks" / "README.md"


def run_benchmark(script: str, args: list[str], output: Path, timeout: float) -> dict:
    """
    Run ``benchmarks/<script>`` writing to ``output`` and return the pages.

    The returned dict has the ``page`` written and ``benchmarks/README.md``
    before and after the run, so a test can check the README was left alone.
    The script gets no ``CLUSTERDASH_*`` variables from the test process.
    """
    output.write_text("# Benchmarks\n\nKept text.\n")
    readme_before = README.read_text()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CLUSTERDASH_")
    }
    command = [sys.executable, str(PROJECT / "benchmarks" / script), *args]
    log = output.with_suffix(".log")
    with log.open("w") as stderr:
        run = subprocess.Popen(
            [*command, "--output", str(output)],
            cwd=PROJECT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            returncode = run.wait(timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM lets the script stop the servers it started.
            run.terminate()
            run.wait(60)
            raise
    assert returncode == 0, log.read_text()[-4000:]
    return {
        "page": output.read_text(),
        "readme_before": readme_before,
        "readme_after": README.read_text(),
    }
