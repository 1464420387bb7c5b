"""
The workers table: one row per worker and a first row of totals.
"""

from __future__ import annotations

from bokeh.models import ColumnDataSource, DataTable, NumberFormatter, TableColumn

from clusterdash.backends.types import Snapshot, WorkerSummary

from .panels import Panel
from .worker_plots import NO_WORKERS

#: Workers table columns: (field, heading, number format or None for text).
#: Each table makes its own formatters, because a Bokeh model belongs to
#: one document only.
TABLE_COLUMNS = (
    ("name", "name", None),
    ("address", "address", None),
    ("nthreads", "nthreads", "0"),
    ("cpu", "cpu %", "0.0"),
    ("memory", "memory", "0.0 b"),
    ("memory_limit", "limit", "0.0 b"),
    ("memory_percent", "memory %", "0.0 %"),
    ("managed", "managed", "0.0 b"),
    ("spilled", "spilled", "0.0 b"),
    ("num_fds", "# fds", "0"),
    ("read_bps", "net read", "0.0 b"),
    ("write_bps", "net write", "0.0 b"),
)


#: Relative width of the address column; Bokeh's default column width is 300.
ADDRESS_WIDTH = 600


def _column(field: str, title: str, number: str | None) -> TableColumn:
    # The table fits its columns to the page in proportion to their widths,
    # and an address needs about twice the room of a number.
    if number is not None:
        return TableColumn(
            field=field, title=title, formatter=NumberFormatter(format=number)
        )
    if field == "address":
        return TableColumn(field=field, title=title, width=ADDRESS_WIDTH)
    return TableColumn(field=field, title=title)


class WorkerTable(Panel):
    """One row per worker and a first row of totals."""

    name = "workers"
    interval = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.source = ColumnDataSource({field: [] for field, _, _ in TABLE_COLUMNS})
        columns = [_column(*column) for column in TABLE_COLUMNS]
        self.body = DataTable(
            source=self.source,
            columns=columns,
            index_position=None,
            reorderable=False,
            sizing_mode="stretch_width",
            height=400,
        )

    def update(self, snapshot: Snapshot) -> None:
        workers = snapshot.workers
        self.say(None if workers else NO_WORKERS)
        rows = [_table_row(w) for w in workers]
        memory = sum(w.memory for w in workers)
        limit = sum(w.memory_limit for w in workers)
        total = {
            "name": f"Total ({len(workers)})",
            "address": "",
            "nthreads": sum(w.nthreads for w in workers),
            "cpu": sum(w.cpu for w in workers),
            "memory": memory,
            "memory_limit": limit,
            "memory_percent": memory / limit if limit else float("nan"),
            "managed": sum(w.managed_bytes for w in workers),
            "spilled": sum(w.spilled_bytes for w in workers),
            "num_fds": sum(w.num_fds for w in workers),
            "read_bps": sum(w.read_bps for w in workers),
            "write_bps": sum(w.write_bps for w in workers),
        }
        rows.insert(0, total)
        self.source.data = {
            field: [row[field] for row in rows] for field, _, _ in TABLE_COLUMNS
        }


def _table_row(worker: WorkerSummary) -> dict:
    return {
        "name": str(worker.name),
        "address": worker.address,
        "nthreads": worker.nthreads,
        "cpu": worker.cpu,
        "memory": worker.memory,
        "memory_limit": worker.memory_limit,
        "memory_percent": (
            worker.memory / worker.memory_limit if worker.memory_limit else float("nan")
        ),
        "managed": worker.managed_bytes,
        "spilled": worker.spilled_bytes,
        "num_fds": worker.num_fds,
        "read_bps": worker.read_bps,
        "write_bps": worker.write_bps,
    }
