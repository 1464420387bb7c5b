"""A real Prometheus server scrapes clusterdash's /metrics under daphne."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from .daphne_server import daphne, free_port, wait_for_http

CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: clusterdash
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def query(prometheus_port, promql):
    url = f"http://127.0.0.1:{prometheus_port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": promql}
    )
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]["result"]


@pytest.mark.slow
def test_prometheus_scrapes_dask_names(cluster, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus (Debian package) is not installed")
    with daphne(cluster.scheduler_address, tmp_path) as site_port:
        prometheus_port = free_port(exclude=(site_port,))
        config = tmp_path / "prometheus.yml"
        config.write_text(CONFIG.format(port=site_port))
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{prometheus_port}/-/ready")
            deadline = time.monotonic() + 60
            while True:
                workers = query(prometheus_port, "sum(dask_scheduler_workers)")
                up = query(prometheus_port, "dask_scheduler_up")
                if workers and up:
                    break
                assert time.monotonic() < deadline, "no samples after 60 s"
                time.sleep(1)
        finally:
            server.terminate()
            server.wait(15)
            log.close()
    assert float(workers[0]["value"][1]) == 2
    assert float(up[0]["value"][1]) == 1
