"""
The measurements of the comparison, each run against one dashboard at a time.

Every function takes plain URLs, PIDs and a ``distributed.Client``, so the
same code measures Dask's dashboard and clusterdash.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import eventstream_bench
import psutil
from distributed import Client
from servers import stop
from tasks import inc

logger = logging.getLogger("compare")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class Dashboard:
    """One dashboard under test: its base URL and the headers it needs."""

    name: str
    url: str
    cookie: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie} if self.cookie else {}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))
    return ordered[position]


def check_status(dashboard: Dashboard, path: str) -> None:
    """Raise unless ``path`` answers 200, so wrk never times an error page."""
    request = urllib.request.Request(dashboard.url + path, headers=dashboard.headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        if response.status != 200 or response.url != dashboard.url + path:
            raise RuntimeError(
                f"{dashboard.name} {path} answered {response.status} at {response.url}"
            )


def parse_wrk(output: str) -> dict[str, float]:
    """Read p50, p99 (ms), requests/s and error counts from ``wrk --latency``."""
    result: dict[str, float] = {"non_2xx": 0.0, "socket_errors": 0.0}
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        match = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        if match is None:
            raise ValueError(f"wrk output has no {label} latency line:\n{output}")
        result[key] = float(match[1]) * WRK_UNITS[match[2]]
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if rate is None:
        raise ValueError(f"wrk output has no Requests/sec line:\n{output}")
    result["requests_per_s"] = float(rate[1])
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        result["non_2xx"] = float(non_2xx[1])
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if errors:
        result["socket_errors"] = float(sum(int(group) for group in errors.groups()))
    return result


def wrk_command(
    dashboard: Dashboard, path: str, connections: int, seconds: float
) -> list[str]:
    command = ["wrk", "-t", str(min(2, connections)), "-c", str(connections)]
    command += ["-d", f"{max(1, round(seconds))}s", "--timeout", "30s", "--latency"]
    if dashboard.cookie:
        command += ["-H", f"Cookie: {dashboard.cookie}"]
    return command + [dashboard.url + path]


def run_wrk(
    dashboard: Dashboard, path: str, connections: int, seconds: float
) -> dict[str, float]:
    """Load one path with wrk; return its latency percentiles and rate."""
    check_status(dashboard, path)
    completed = subprocess.run(
        wrk_command(dashboard, path, connections, seconds),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    return parse_wrk(completed.stdout)


def first_loads(
    dashboard: Dashboard, path: str, count: int, budget: float
) -> dict[str, float]:
    """Time up to ``count`` sequential GETs of a Bokeh page, each a first load.

    wrk reports nothing when one page takes longer than its run, which
    Dask's ``/status`` does on a loaded scheduler, so this times whole
    requests one after the other instead, for at most ``budget`` seconds.
    """
    check_status(dashboard, path)
    timings = []
    started = time.perf_counter()
    while len(timings) < count and time.perf_counter() - started < budget:
        request = urllib.request.Request(
            dashboard.url + path, headers=dashboard.headers
        )
        begun = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
        timings.append((time.perf_counter() - begun) * 1000)
    return {
        "p50_ms": statistics.median(timings),
        "p99_ms": percentile(timings, 0.99),
        "requests_per_s": len(timings) / (time.perf_counter() - started),
        "samples": float(len(timings)),
    }


def document_loads(
    dashboard: Dashboard, path: str, count: int, budget: float
) -> dict[str, float]:
    """Time up to ``count`` loads of a Bokeh page in Chromium, one tab each.

    A load is timed twice: to the page's HTML response, and to the Bokeh
    document the page's websocket delivers, which is when the plots can
    draw. Dask builds the document while it serves the GET and clusterdash
    when the websocket opens, so only the second time compares the two.
    Loads run one after the other for at most ``budget`` seconds, because
    one Dask ``/status`` can take longer than a wrk run on a loaded
    scheduler.
    """
    from playwright.sync_api import sync_playwright

    check_status(dashboard, path)
    responses: list[float] = []
    documents: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()
            if dashboard.cookie:
                name, _, value = dashboard.cookie.partition("=")
                context.add_cookies(
                    [{"name": name, "value": value, "url": dashboard.url}]
                )
            started = time.perf_counter()
            while len(documents) < count and time.perf_counter() - started < budget:
                page = context.new_page()
                begun = time.perf_counter()
                page.goto(dashboard.url + path, wait_until="commit", timeout=120_000)
                responses.append((time.perf_counter() - begun) * 1000)
                page.wait_for_function(
                    "() => window.Bokeh && Bokeh.documents.length > 0",
                    timeout=120_000,
                )
                documents.append((time.perf_counter() - begun) * 1000)
                page.close()
            spent = time.perf_counter() - started
        finally:
            browser.close()
    return {
        "p50_ms": statistics.median(documents),
        "p99_ms": percentile(documents, 0.99),
        "requests_per_s": len(documents) / spent,
        "samples": float(len(documents)),
        "response_p50_ms": statistics.median(responses),
        "response_p99_ms": percentile(responses, 0.99),
    }


@contextmanager
def wrk_burst(dashboard: Dashboard, path: str, connections: int) -> Iterator[None]:
    """Keep ``connections`` wrk connections loading ``path`` inside the block."""
    check_status(dashboard, path)
    burst = subprocess.Popen(
        wrk_command(dashboard, path, connections, 3600),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(2)
        yield
    finally:
        stop(burst)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def cpu_rates(pids: dict[str, int], window: float) -> dict[str, float]:
    """Return each process's CPU use over ``window`` s, in percent of a core."""
    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    before = {name: cpu_seconds(process) for name, process in processes.items()}
    started = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - started
    return {
        name: 100 * (cpu_seconds(process) - before[name]) / elapsed
        for name, process in processes.items()
    }


@dataclass(frozen=True)
class Placement:
    """CPUs for the cluster and for everything that watches it.

    The cluster is the scheduler, the worker pools and this process, which
    runs the Dask client. The viewers are daphne and Chromium. On
    separate CPUs, a map slowed by open tabs shows what the dashboards cost
    the scheduler, not the tabs' rendering on the same cores.
    """

    cluster: tuple[int, ...]
    viewers: tuple[int, ...]

    @classmethod
    def split(cls) -> Placement | None:
        """Give the viewers the last half of this process's CPUs, or None."""
        cpus = sorted(psutil.Process().cpu_affinity())
        if len(cpus) < 2:
            return None
        half = len(cpus) // 2
        return cls(tuple(cpus[:-half]), tuple(cpus[-half:]))

    def describe(self) -> dict[str, list[int]]:
        return {"cluster": list(self.cluster), "viewers": list(self.viewers)}


def pin(pids: Iterable[int], cpus: Iterable[int]) -> None:
    """Set the CPU affinity of every live process in ``pids`` to ``cpus``."""
    for pid in pids:
        try:
            psutil.Process(pid).cpu_affinity(list(cpus))
        except psutil.NoSuchProcess:
            pass


def descendants() -> set[int]:
    """Return the PIDs of every process this process started, at any depth."""
    return {child.pid for child in psutil.Process().children(recursive=True)}


def processes_cpu_seconds(pids: Iterable[int]) -> float:
    """Return the CPU seconds used so far by the live processes in ``pids``."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    return total


class Tabs:
    """Headless Chromium tabs opened by ``browser_tabs``.

    ``pids`` contains the browser's processes, known once its pages loaded.
    """

    def __init__(self, browser=None) -> None:
        self.browser = browser
        self.loaded = 0
        self.pids: set[int] = set()

    def cpu_seconds(self) -> float:
        """Return the CPU seconds the browser's processes have used so far."""
        return processes_cpu_seconds(self.pids)

    def close(self) -> None:
        """Close every tab now; closing twice does nothing."""
        if self.browser is not None:
            self.browser.close()
            self.browser = None


#: Busy for ``share`` of every 20 ms, asleep for the rest.
BUSY_LOOP = """
import sys, time
share = float(sys.argv[1])
while True:
    began = time.perf_counter()
    while time.perf_counter() - began < 0.02 * share:
        pass
    time.sleep(0.02 * (1 - share))
"""


class BusyLoop(Tabs):
    """A process that keeps a share of one CPU busy, in place of tabs."""

    def __init__(self, process: subprocess.Popen) -> None:
        super().__init__()
        self.process = process
        self.pids = {process.pid}

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@contextmanager
def busy_loop(share: float, cpus: Iterable[int] = ()) -> Iterator[Tabs]:
    """Keep ``share`` of one CPU busy, on ``cpus`` if given, for the block."""
    loop = BusyLoop(subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(share)]))
    try:
        if cpus:
            pin(loop.pids, cpus)
        yield loop
    finally:
        loop.close()


@contextmanager
def browser_tabs(
    dashboard: Dashboard | None, paths: list[str], cpus: Iterable[int] = ()
) -> Iterator[Tabs]:
    """Open one headless Chromium tab per path, closed at the end of the block.

    ``loaded`` counts the tabs that got a Bokeh document. A tab whose
    document has not arrived after 180 s stays open and is left out of the
    count, so an overloaded machine shortens the run but does not stop it.
    With ``cpus``, Playwright's driver and the browser run on those CPUs.
    """
    if dashboard is None or not paths:
        yield Tabs()
        return
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    existing = descendants()
    with sync_playwright() as playwright:
        tabs = Tabs(
            playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        )
        # Chromium forks its renderers from processes that exist by now, so
        # they inherit this affinity.
        if cpus:
            pin(descendants() - existing, cpus)
        try:
            context = tabs.browser.new_context()
            if dashboard.cookie:
                name, _, value = dashboard.cookie.partition("=")
                context.add_cookies(
                    [{"name": name, "value": value, "url": dashboard.url}]
                )
            # Start every load first, then wait, so the tabs load in parallel.
            pages = []
            for path in paths:
                page = context.new_page()
                page.goto(dashboard.url + path, wait_until="commit", timeout=120_000)
                pages.append(page)
            for page in pages:
                try:
                    page.wait_for_function(
                        "() => window.Bokeh && Bokeh.documents.length > 0",
                        timeout=180_000,
                    )
                except PlaywrightError as exc:
                    logger.warning("%s got no Bokeh document: %s", page.url, exc)
                else:
                    tabs.loaded += 1
            tabs.pids = descendants() - existing
            if cpus:
                pin(tabs.pids, cpus)
            yield tabs
        finally:
            tabs.close()


def tab_cpu(
    dashboard: Dashboard, tabs: int, pids: dict[str, int], window: float
) -> dict[str, float]:
    """Measure CPU use with ``tabs`` tabs on ``/status``, after a short settle."""
    with browser_tabs(dashboard, ["/status"] * tabs) as opened:
        time.sleep(min(5.0, window))
        return {**cpu_rates(pids, window), "tabs_loaded": float(opened.loaded)}


def map_wall_time(
    client: Client,
    tasks: int,
    dashboard: Dashboard | None,
    paths: list[str],
    pids: dict[str, int],
    cpus: Iterable[int] = (),
    busy_share: float = 0.0,
) -> dict[str, float]:
    """Time ``client.map(inc, range(tasks))`` to completion, in seconds.

    The tabs on ``paths`` open before the map starts, on ``cpus`` if given,
    and close once half of its tasks are done, as a user who looks and
    leaves would. Besides the wall time, the result contains the CPU seconds
    that the browser used while its tabs were open and that each process in
    ``pids`` used during the map. With ``busy_share``, a busy loop on
    ``cpus`` takes the tabs' place, and its CPU seconds the browser's.
    """
    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    if busy_share:
        watching = busy_loop(busy_share, cpus)
    else:
        watching = browser_tabs(dashboard, paths, cpus)
    with watching as opened:
        time.sleep(2)
        before = {name: cpu_seconds(process) for name, process in processes.items()}
        browser_before = opened.cpu_seconds()
        started = time.perf_counter()
        futures = client.map(inc, range(tasks), pure=False)
        while sum(future.done() for future in futures) < tasks / 2:
            time.sleep(0.25)
        browser_used = opened.cpu_seconds() - browser_before
        opened.close()
        client.gather(futures)
        elapsed = time.perf_counter() - started
        del futures
    result = {"seconds": elapsed, "browser_cpu_seconds": browser_used}
    for name, process in processes.items():
        result[f"{name}_cpu_seconds"] = cpu_seconds(process) - before[name]
    return result


def timed_calls(call, count: int, budget: float) -> list[float]:
    """Time up to ``count`` sequential calls of ``call(index, timeout)``, in ms.

    Stops after ``budget`` seconds. A call that times out then is counted
    with the time it waited, which understates it.
    """
    timings = []
    deadline = time.monotonic() + budget
    for index in range(count):
        started = time.perf_counter()
        try:
            call(index, max(deadline - time.monotonic(), 0.1))
        except TimeoutError:
            timings.append((time.perf_counter() - started) * 1000)
            break
        timings.append((time.perf_counter() - started) * 1000)
        if time.monotonic() > deadline:
            break
    return timings


def responsiveness(
    client: Client, dashboard: Dashboard, count: int, budget: float
) -> dict[str, float]:
    """Return submit and ``/health`` median and p99 in ms, and sample counts."""

    def submit(index: int, timeout: float) -> None:
        client.submit(inc, index, pure=False).result(timeout=timeout)

    def get_health(_index: int, timeout: float) -> None:
        try:
            urllib.request.urlopen(dashboard.url + "/health", timeout=timeout).close()
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise TimeoutError(str(exc)) from exc
            raise

    submits = timed_calls(submit, count, budget)
    healths = timed_calls(get_health, count, budget)
    return {
        "submit_p50_ms": statistics.median(submits),
        "submit_p99_ms": percentile(submits, 0.99),
        "submit_samples": float(len(submits)),
        "health_p50_ms": statistics.median(healths),
        "health_p99_ms": percentile(healths, 0.99),
        "health_samples": float(len(healths)),
    }


def settle(pid: int, idle_rate: float, longest: float) -> float:
    """Wait until the process's CPU use falls to near ``idle_rate`` (percent).

    Dask's Bokeh sessions keep running periodic callbacks for about 15 s
    after their tab or request is gone, so each load of Dask's pages is
    followed by this wait. Returns the seconds waited, at most ``longest``.
    """
    started = time.monotonic()
    while time.monotonic() - started < longest:
        rate = cpu_rates({"process": pid}, 2.0)["process"]
        if rate <= max(1.5 * idle_rate, idle_rate + 5.0):
            break
    return time.monotonic() - started


def eventstream_rate(
    client: Client, dashboard: Dashboard, clients: int, tasks: int
) -> dict[str, float]:
    """Run the ``/eventstream`` delivery count of ``eventstream_bench.py``."""
    args = argparse.Namespace(clients=clients, tasks=tasks, timeout=120.0)
    url = dashboard.url.replace("http://", "ws://") + "/eventstream"
    stats = asyncio.run(
        eventstream_bench.run(args, url, client, dashboard.headers or None)
    )
    span = max(stats["last"] - stats["first"], 1e-9)
    expected = clients * tasks
    return {
        "events_per_s": stats["received"] / span,
        "lost": float(expected - stats["received"]),
    }
