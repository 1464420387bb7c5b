"""
Render the results of ``compare.py`` as the comparison section of a page.

The section sits between ``BEGIN`` and ``END`` markers, so a rerun replaces
it and leaves the rest of the page alone. It is rebuilt from every
``compare-<scale>.json`` in the results folder, so a run at one scale keeps
the tables of the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

BEGIN = "<!-- compare.py results: begin -->"
END = "<!-- compare.py results: end -->"
SCALE_ORDER = ["tiny", "small", "large"]
DASHBOARDS = ("clusterdash", "dask")
ENDPOINT_ORDER = [
    "/health",
    "/metrics",
    "/json/counts.json",
    "/info/main/workers.html",
    "/info/task/held-0.html",
    "/individual-plots.json",
    "/status",
]

INTRO = """\
## Comparison with Dask's own dashboard (`compare.py`)

`compare.py` starts one scheduler with Dask's dashboard on
(`dask scheduler --dashboard-address 127.0.0.1:<port>`, in its own process),
worker pools of at most 50 single-threaded workers per process
(`worker_pool.py`), and clusterdash under daphne pointed at the same
scheduler with its default settings (poll interval 0.5 s), logged in as a
superuser through the session cookie. It then keeps the scale's number of
waiting tasks on the scheduler (one root task blocked on a
`distributed.Event` and its dependents) and measures both dashboards one
after the other in the same run:

- **latency**: `wrk --latency` for each endpoint, 4 connections, except
  `/status`, which Chromium loads in a new tab at a time: the first-load
  rows time each load until the page's Bokeh document has arrived, and the
  "HTML response" rows until the page's response began. Dask builds the
  document while it serves the GET, clusterdash when the page's websocket
  opens, so only the first-load rows compare the two;
- **scheduler CPU**: `psutil` CPU time (user + system) of the scheduler
  process over the window, in percent of one core, with 0, 1 and 10 headless
  Chromium tabs on `/status` (after a 5 s settle);
- **map**: wall time of `client.map(inc, range(N), pure=False)` and `gather`
  with no tab open, with `/status`, `/tasks` and `/graph` open on
  clusterdash, and with the same pages open on Dask's dashboard. Every
  timed map runs on a fresh scheduler, fresh worker pools and a fresh
  clusterdash, started before the comparison's own cluster. On one
  scheduler, each map ran slower than the one before. The three
  conditions are timed in rounds, each round starting with a different
  one, and a round's slowdowns are taken against its own map with no tab.
  The tabs open before the map starts and close once half of its tasks are
  done. The rows that follow give how long the scheduler's CPU use took to
  fall back to idle after the map and what Chromium used while its tabs
  were open. The last rows give the CPU time of the scheduler and of
  daphne during the map.
  Unless `--shared-cpus` is given, the maps run with the scheduler, the
  worker pools and the client on one half of the CPUs and daphne and
  Chromium on the other. That is the case of a deployment where the
  browsers and the dashboard server run on other machines than the
  scheduler. Dask's Bokeh server runs inside the scheduler, so it stays on
  the cluster's half;
- **event stream**: `eventstream_bench.run`, 50 websocket clients on
  `/eventstream`, counting the `transition` messages of a burst of tasks;
- **responsiveness**: the median and p99 of sequential
  `client.submit(inc, i).result()` round trips and of `GET /health` on the
  loaded dashboard, idle and while `wrk -c 4` loads that dashboard's
  `/status`;
- **peak RSS**: the daphne process, and for Dask the scheduler process that
  contains its dashboard, sampled every 0.5 s over the whole run.

The "no tab" rows are one measurement shown in both columns. The
`clusterdash / Dask` column divides the first by the second.

Targets, judged for each scale unless set for the large one only, where
the smaller scales show the value with "large scale only":

1. scheduler CPU overhead with 10 tabs (10 tabs minus no tab) at most a
   fifth of Dask's;
2. clusterdash with 10 tabs costing the scheduler at most 1.2 times one tab;
3. the map at most 5 % slower with clusterdash's tabs open than with none;
4. `/metrics` and `/json/counts.json` p50 at most half of Dask's (set for
   the large scale);
5. `/info/main/workers.html` p99 under 100 ms (set for the large scale);
6. at least 10,000 `/eventstream` events/s to 50 clients, none lost;
7. submit round trip (median) under a clusterdash `/status` burst at most
   1.5 times idle.
"""


def number(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(first: float, second: float) -> str:
    if second == 0 or math.isnan(first) or math.isnan(second):
        return "–"
    return f"{first / second:.2f}"


def latency_rows(record: dict) -> list[tuple[str, float, float]]:
    rows = []
    for path in ENDPOINT_ORDER:
        by_dashboard = record["latency"].get(path, {})
        for key, label in (
            ("p50_ms", "p50 (ms)"),
            ("p99_ms", "p99 (ms)"),
            ("requests_per_s", "requests/s"),
        ):
            values = [
                by_dashboard.get(name, {}).get(key, math.nan) for name in DASHBOARDS
            ]
            name = "`/status` first load" if path == "/status" else f"`{path}`"
            rows.append((f"{name} {label}", *values))
    status = record["latency"].get("/status", {})
    if all("response_p50_ms" in status.get(name, {}) for name in DASHBOARDS):
        for key, label in (("response_p50_ms", "p50"), ("response_p99_ms", "p99")):
            values = [status[name][key] for name in DASHBOARDS]
            rows.append((f"`/status` HTML response {label} (ms)", *values))
    return rows


def cpu_rows(record: dict) -> list[tuple[str, float, float]]:
    cpu = record["cpu"]
    idle = cpu["0"]["scheduler"]
    rows = [("scheduler CPU, no tab (% of a core)", idle, idle)]
    many = record["settings"]["many_tabs"]
    for tabs in (1, many):
        values = [cpu[f"{name}-{tabs}"]["scheduler"] for name in DASHBOARDS]
        rows.append((f"scheduler CPU, {tabs} `/status` tab(s) (%)", *values))
    overheads = [cpu[f"{name}-{many}"]["scheduler"] - idle for name in DASHBOARDS]
    rows.append((f"scheduler CPU overhead, {many} tabs minus none (%)", *overheads))
    for tabs in (1, many):
        values = [cpu[f"{name}-{tabs}"]["daphne"] for name in DASHBOARDS]
        rows.append((f"daphne CPU, {tabs} `/status` tab(s) (%)", *values))
    loaded = [cpu[f"{name}-{many}"].get("tabs_loaded", many) for name in DASHBOARDS]
    rows.append((f"tabs whose document loaded, of {many}", *loaded))
    return rows


def map_seconds(run) -> float:
    """Return a map run's wall time; older records store only the number."""
    return run["seconds"] if isinstance(run, dict) else run


def map_cpu(mapped: dict, process: str) -> float:
    """Return the mean CPU seconds of ``process`` over the maps with no tab."""
    runs = [mapped["none"]] + ([mapped["none_again"]] if "none_again" in mapped else [])
    return sum(run[f"{process}_cpu_seconds"] for run in runs) / len(runs)


def map_baseline(mapped: dict) -> float:
    """Return the map's wall time with no tab: the mean of its two runs."""
    runs = [mapped["none"]] + ([mapped["none_again"]] if "none_again" in mapped else [])
    return sum(map_seconds(run) for run in runs) / len(runs)


def map_rows(record: dict) -> list[tuple[str, float, float]]:
    mapped = record["map"]
    if "rounds" in mapped:
        return round_rows(mapped)
    baseline = map_baseline(mapped)
    first = map_seconds(mapped["none"])
    rows = [("map wall time, no tab, first run (s)", first, first)]
    if "none_again" in mapped:
        again = map_seconds(mapped["none_again"])
        rows.append(("map wall time, no tab, last run (s)", again, again))
    values = [map_seconds(mapped[name]) for name in DASHBOARDS]
    rows.append(("map wall time, `/status` `/tasks` `/graph` open (s)", *values))
    slowdowns = [100 * (value / baseline - 1) for value in values]
    rows.append(("map slowdown with those tabs, against the mean (%)", *slowdowns))
    if "idle_after" in mapped:
        idle = [mapped["idle_after"][name] for name in DASHBOARDS]
        rows.append(("scheduler back to idle after the map (s)", *idle))
    if all(isinstance(mapped[name], dict) for name in DASHBOARDS):
        browser = [mapped[name]["browser_cpu_seconds"] for name in DASHBOARDS]
        rows.append(("Chromium CPU while the tabs were open (s)", *browser))
        for process in ("scheduler", "daphne"):
            used = [mapped[name][f"{process}_cpu_seconds"] for name in DASHBOARDS]
            rows.append((f"{process} CPU during the map with tabs (s)", *used))
        idle = map_cpu(mapped, "scheduler")
        rows.append(("scheduler CPU during the map with no tab, mean (s)", idle, idle))
    return rows


def round_rows(mapped: dict) -> list[tuple[str, float, float]]:
    """Return the rows of maps timed in rounds, each on a fresh cluster."""
    summary = mapped["summary"]
    count = len(mapped["rounds"])
    none = summary["none"]
    ours, theirs = (summary[name] for name in DASHBOARDS)

    def pair(key: str) -> tuple[float, float]:
        return ours[key], theirs[key]

    tabs = "`/status` `/tasks` `/graph` open"
    return [
        (f"map wall time, no tab, median of {count} (s)", *[none["seconds"]] * 2),
        ("map wall time, no tab, fastest (s)", *[none["seconds_min"]] * 2),
        ("map wall time, no tab, slowest (s)", *[none["seconds_max"]] * 2),
        (f"map wall time, {tabs}, median (s)", *pair("seconds")),
        ("map slowdown with those tabs, median of rounds (%)", *pair("slowdown_pct")),
        ("map slowdown, smallest of rounds (%)", *pair("slowdown_min_pct")),
        ("map slowdown, largest of rounds (%)", *pair("slowdown_max_pct")),
        ("scheduler back to idle after the map, median (s)", *pair("idle_after")),
        ("Chromium CPU while the tabs were open (s)", *pair("browser_cpu_seconds")),
        ("scheduler CPU during the map with tabs (s)", *pair("scheduler_cpu_seconds")),
        ("daphne CPU during the map with tabs (s)", *pair("daphne_cpu_seconds")),
        (
            "scheduler CPU during the map with no tab (s)",
            *[none["scheduler_cpu_seconds"]] * 2,
        ),
    ] + busy_rows(mapped)


def busy_rows(mapped: dict) -> list[tuple[str, float, float]]:
    """Return the rows of the busy-loop control, if the maps had one."""
    busy = mapped["summary"].get("busy")
    if busy is None:
        return []
    share = round(100 * mapped["busy_share"])
    control = f"no tab, {share} % of a CPU busy on the viewers' CPU"
    return [
        (f"map wall time, {control}, median (s)", *[busy["seconds"]] * 2),
        (f"map slowdown, {control}, median (%)", *[busy["slowdown_pct"]] * 2),
        ("map slowdown, that control, smallest (%)", *[busy["slowdown_min_pct"]] * 2),
        ("map slowdown, that control, largest (%)", *[busy["slowdown_max_pct"]] * 2),
        (
            "scheduler CPU during the map, that control (s)",
            *[busy["scheduler_cpu_seconds"]] * 2,
        ),
    ]


def map_slowdown(mapped: dict) -> float:
    """Return clusterdash's map slowdown in percent, the target's measure."""
    if "rounds" in mapped:
        return mapped["summary"]["clusterdash"]["slowdown_pct"]
    return 100 * (map_seconds(mapped["clusterdash"]) / map_baseline(mapped) - 1)


def map_placement(record: dict) -> str:
    """Describe where the timed maps ran, for the scale's header."""
    placement = record.get("map", {}).get("placement")
    if not placement:
        return (
            "Map placement: the cluster, daphne and Chromium shared every CPU "
            "during the maps."
        ) + map_history(record)
    cluster = ", ".join(str(cpu) for cpu in placement["cluster"])
    viewers = ", ".join(str(cpu) for cpu in placement["viewers"])
    return (
        f"Map placement: the scheduler, the worker pools and the client on CPU "
        f"{cluster}; daphne and Chromium on CPU {viewers} (`sched_setaffinity`), "
        "during the maps only."
    ) + map_history(record)


def map_history(record: dict) -> str:
    """Say how the maps of ``record`` were timed, for older records too."""
    mapped = record.get("map", {})
    if "rounds" in mapped:
        count = len(mapped["rounds"])
        conditions = "three conditions"
        if mapped.get("busy_share"):
            conditions += " and the busy-loop control"
        text = (
            f" Maps: {count} round(s) of the {conditions}, each map on a fresh cluster."
        )
    else:
        text = (
            " Maps: one cluster for the whole run, which also held the waiting "
            "tasks; no tab, clusterdash, Dask, then no tab again."
        )
    if "command" in mapped and mapped.get("date") != record.get("date"):
        text += (
            f" The maps were timed on {mapped['date']}, with "
            f"`{mapped['command']}`; the other rows are from the run above."
        )
    return text


def eventstream_rows(record: dict) -> list[tuple[str, float, float]]:
    events = record["eventstream"]
    rows = []
    for key, label in (("events_per_s", "events/s"), ("lost", "events lost")):
        values = [events[name][key] for name in DASHBOARDS]
        rows.append((f"`/eventstream` to 50 clients, {label}", *values))
    return rows


def responsiveness_rows(record: dict) -> list[tuple[str, float, float]]:
    response = record["responsiveness"]
    rows = []
    for key, label in (
        ("submit_p50_ms", "submit round trip p50 (ms)"),
        ("submit_p99_ms", "submit round trip p99 (ms)"),
        ("health_p50_ms", "`/health` p50 (ms)"),
        ("health_p99_ms", "`/health` p99 (ms)"),
    ):
        for state in ("idle", "burst"):
            values = [response[f"{state}-{name}"][key] for name in DASHBOARDS]
            when = "idle" if state == "idle" else "under a `/status` burst"
            rows.append((f"{label}, {when}", *values))
    return rows


def rss_rows(record: dict) -> list[tuple[str, float, float]]:
    rss = [record["rss"][name] / 2**20 for name in DASHBOARDS]
    return [("peak RSS: daphne / Dask's scheduler (MiB)", *rss)]


ROW_GROUPS = [
    ("latency", latency_rows),
    ("CPU", cpu_rows),
    ("map", map_rows),
    ("event stream", eventstream_rows),
    ("responsiveness", responsiveness_rows),
    ("peak RSS", rss_rows),
]


def table_rows(record: dict) -> list[tuple[str, float, float]]:
    """Return (measure, clusterdash value, Dask value) rows of one scale.

    A group whose measurement failed gets one row of ``nan`` values.
    """
    rows = []
    for group, build in ROW_GROUPS:
        try:
            rows += build(record)
        except (KeyError, TypeError, ZeroDivisionError):
            rows.append((f"{group}: not measured", math.nan, math.nan))
    return rows


def lookup(record: dict, *keys: str) -> float:
    """Return the number at ``record[key][key]...``, or ``nan`` if it is missing."""
    value = record
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return math.nan
        value = value[key]
    return float(value)


def target_checks(record: dict) -> list[tuple[str, str, bool]]:
    """Return (target, measured value, met) for the targets of one scale."""
    many = record["settings"]["many_tabs"]
    idle = lookup(record, "cpu", "0", "scheduler")
    overhead = {
        name: lookup(record, "cpu", f"{name}-{many}", "scheduler") - idle
        for name in DASHBOARDS
    }
    one_tab = lookup(record, "cpu", "clusterdash-1", "scheduler")
    ten_tabs = lookup(record, "cpu", f"clusterdash-{many}", "scheduler")
    try:
        slowdown = map_slowdown(record["map"])
    except (KeyError, TypeError):
        slowdown = math.nan
    events = {
        key: lookup(record, "eventstream", "clusterdash", key)
        for key in ("events_per_s", "lost")
    }
    idle_submit = lookup(record, "responsiveness", "idle-clusterdash", "submit_p50_ms")
    burst_submit = lookup(
        record, "responsiveness", "burst-clusterdash", "submit_p50_ms"
    )

    def p50_ratio(path: str) -> float:
        ours = lookup(record, "latency", path, "clusterdash", "p50_ms")
        return ours / lookup(record, "latency", path, "dask", "p50_ms")

    workers_p99 = lookup(
        record, "latency", "/info/main/workers.html", "clusterdash", "p99_ms"
    )
    checks: list[tuple[str, str, Callable[[], bool]]] = [
        (
            f"{many}-tab scheduler overhead at most 1/5 of Dask's",
            f"{number(overhead['clusterdash'])} % vs {number(overhead['dask'])} %",
            lambda: overhead["clusterdash"] <= 0.2 * max(overhead["dask"], 0.0),
        ),
        (
            f"{many} tabs at most 1.2 times 1 tab (scheduler CPU)",
            f"{number(ten_tabs)} % vs {number(one_tab)} %",
            lambda: ten_tabs <= 1.2 * one_tab,
        ),
        (
            "map at most 5 % slower with clusterdash tabs",
            f"{slowdown:+.1f} %",
            lambda: slowdown <= 5.0,
        ),
        (
            "`/metrics` p50 at most half of Dask's",
            f"ratio {p50_ratio('/metrics'):.2f}",
            lambda: p50_ratio("/metrics") <= 0.5,
        ),
        (
            "`/json/counts.json` p50 at most half of Dask's",
            f"ratio {p50_ratio('/json/counts.json'):.2f}",
            lambda: p50_ratio("/json/counts.json") <= 0.5,
        ),
        (
            "`/info/main/workers.html` p99 under 100 ms",
            f"{number(workers_p99)} ms",
            lambda: workers_p99 < 100,
        ),
        (
            "10,000 events/s to 50 clients, none lost",
            f"{number(events['events_per_s'])}/s, {number(events['lost'])} lost",
            lambda: events["events_per_s"] >= 10_000 and events["lost"] == 0,
        ),
        (
            "submit round trip under a `/status` burst at most 1.5 times idle",
            f"{number(burst_submit)} ms vs {number(idle_submit)} ms",
            lambda: burst_submit <= 1.5 * idle_submit,
        ),
    ]
    return [(target, measured, met()) for target, measured, met in checks]


#: Targets set for the large scale only; smaller scales show the value.
LARGE_SCALE_TARGETS = {
    "`/metrics` p50 at most half of Dask's",
    "`/json/counts.json` p50 at most half of Dask's",
    "`/info/main/workers.html` p99 under 100 ms",
}


def judged_targets(record: dict) -> list[tuple[str, str, str]]:
    """Return (target, measured value, met / missed) rows, or one failure row."""
    try:
        checks = target_checks(record)
    except (KeyError, TypeError, ZeroDivisionError) as exc:
        return [("all targets", f"not measured ({exc!r})", "missed")]
    rows = []
    for target, measured, met in checks:
        if "n/a" in measured or "nan" in measured:
            rows.append((target, measured, "not measured"))
        elif target in LARGE_SCALE_TARGETS and record.get("scale") != "large":
            rows.append((target, measured, "large scale only"))
        else:
            rows.append((target, measured, "met" if met else "missed"))
    return rows


def render_scale(record: dict) -> str:
    settings = record["settings"]
    machine = record["machine"]
    versions = record["versions"]
    if "total_seconds" in record:
        took = f"{record['total_seconds'] / 60:.1f} minutes in all."
    else:
        took = "stopped before it finished; the rows marked n/a were not reached."
    load_after = record["machine"].get("load_average_after", ["n/a"])[0]
    lines = [
        f"### Scale `{record['scale']}`: {settings['workers']} workers, "
        f"{settings['held_tasks']:,} tasks held",
        "",
        f"Run {record['date']}: `{record.get('command', 'compare.py')}`, {took}",
        "",
        f"Machine: {machine['nproc']} CPU cores (`nproc`), {machine['cpu_model']}, "
        f"{machine['ram_gib']} GiB RAM, {machine['system']}; load average "
        f"{machine['load_average'][0]} before and {load_after} after the run.",
        "",
        "Versions: "
        + ", ".join(f"{name} {value}" for name, value in versions.items())
        + ".",
        "",
        f"Windows: wrk {settings['wrk_seconds']:g} s per endpoint, "
        f"{settings['status_loads']} first loads of `/status` (at most "
        f"{settings['status_seconds']:g} s), CPU "
        f"{settings['cpu_window']:g} s per tab count, map of "
        f"{settings['map_tasks']:,} tasks, {settings['event_tasks']:,} tasks for "
        f"the event stream, {settings['round_trips']} round trips per "
        f"condition (at most {settings['round_trip_budget']:g} s each), and up "
        f"to {settings['longest_settle']:g} s for the scheduler to settle after "
        "each load.",
        "",
        map_placement(record),
        "",
        "| measure | clusterdash | Dask | clusterdash / Dask |",
        "|---|---:|---:|---:|",
    ]
    for label, ours, theirs in table_rows(record):
        lines.append(
            f"| {label} | {number(ours)} | {number(theirs)} | {ratio(ours, theirs)} |"
        )
    lines += ["", "| target | measured | result |", "|---|---|---|"]
    for target, measured, result in judged_targets(record):
        lines.append(f"| {target} | {measured} | {result} |")
    return "\n".join(lines) + "\n"


def render_section(results_dir: Path) -> str:
    records = []
    for path in results_dir.glob("compare-*.json"):
        records.append(json.loads(path.read_text()))
    records.sort(key=lambda record: SCALE_ORDER.index(record["scale"]))
    parts = [INTRO] + [render_scale(record) for record in records]
    return BEGIN + "\n" + "\n".join(parts) + END + "\n"


def update_page(page: Path, results_dir: Path) -> None:
    """Replace the comparison section of ``page``, or append it."""
    replace_section(page, render_section(results_dir), BEGIN, END)


def replace_section(page: Path, section: str, begin: str, end: str) -> None:
    """Replace the text from ``begin`` to ``end`` of ``page``, or append it."""
    text = page.read_text() if page.exists() else ""
    if begin in text and end in text:
        before, _, rest = text.partition(begin)
        _, _, after = rest.partition(end + "\n")
        text = before + section + after
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    page.write_text(text)
