"""
The frame every plot lives in: a notice line above a Bokeh model.

A page contains several panels and one periodic callback per update
interval. Each tick reads the shared snapshot once and hands it to every
panel, so the scheduler's cost does not grow with the number of panels or
viewers. A panel that raises
shows its own error notice while the others keep updating.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterable

from bokeh.document import Document
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, Div, LayoutDOM
from bokeh.palettes import Colorblind8
from django.conf import settings

from clusterdash.backends import get_backend
from clusterdash.backends.exceptions import SchedulerUnavailable
from clusterdash.backends.types import Snapshot

logger = logging.getLogger(__name__)

#: Okabe-Ito colours, distinguishable with the common colour-vision
#: deficiencies.
PALETTE = tuple(Colorblind8)
BLUE, ORANGE, YELLOW, GREEN, SKY, VERMILION, PURPLE, BLACK = Colorblind8
GREY = "#999999"

#: Seconds between two log records of the same failing panel.
ERROR_LOG_INTERVAL = 60.0

_last_logged: dict[str, float] = {}

#: Maximum characters of a task key or prefix name on an axis or in a column.
LABEL_CHARS = 100
#: Maximum characters of a task key in a tooltip.
TOOLTIP_CHARS = 300


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """
    Cut ``text`` to at most ``limit`` characters for plot data and axes.

    A cut text ends in an ellipsis and 8 hex digits of a hash of the whole
    text, so two long keys with the same start stay distinct categories.
    A panel that replaces its data source sends every label in one update
    message, and daphne (4.x) rejects websocket messages over 1 MiB by default.
    """
    if len(text) <= limit:
        return text
    digest = hashlib.blake2s(
        text.encode("utf-8", "surrogatepass"), digest_size=4
    ).hexdigest()
    suffix = "\u2026" + digest
    return text[: max(limit - len(suffix), 0)] + suffix


def colour_for(name: str) -> str:
    """Return a stable palette colour for a task prefix or action name."""
    # A sum of code points is stable across processes, unlike hash().
    return PALETTE[sum(map(ord, name)) % len(PALETTE)]


def format_bytes(n: float) -> str:
    """Return a byte count in binary units, for titles and labels."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    return f"{value:.2f} PiB"


def update_source(source: ColumnDataSource, data: dict[str, list]) -> None:
    """
    Set ``source`` to ``data``, sending only the rows that changed.

    When the columns and their lengths stay the same, the changed cells go
    to the browser as one ``source.patch``, so an update costs in
    proportion to the rows that changed, and an update that changes
    nothing sends nothing. A change in columns or row count, or in more
    than half of the rows, replaces the data whole, because a patch names
    each cell's index and is then about as large as the whole columns.
    """
    current = source.data
    rows = len(next(iter(data.values()), []))
    if set(current) != set(data) or any(
        len(current[name]) != len(values) for name, values in data.items()
    ):
        source.data = data
        return
    patches = {}
    changed_rows: set[int] = set()
    for name, values in data.items():
        changes = [
            (index, value)
            for index, (before, value) in enumerate(
                zip(current[name], values, strict=True)
            )
            if before != value
        ]
        if changes:
            patches[name] = changes
            changed_rows.update(index for index, _ in changes)
    if 2 * len(changed_rows) > rows:
        source.data = data
    elif patches:
        source.patch(patches)


class Panel:
    """
    One plot with its notice line.

    Subclasses build ``self.body`` in ``__init__`` and fill it in
    ``update``. ``notice`` words an empty state ("No workers yet.") and
    hides once the plot has data.
    """

    #: Name shown in logs and used by ``CLUSTERDASH_PLOTS_FAILING``.
    name = "panel"
    #: Seconds between updates.
    interval = 0.5

    def __init__(self) -> None:
        self.notice = Div(
            text="Waiting for the first update.",
            render_as_text=True,
            css_classes=["plot-notice"],
            visible=True,
        )
        self.body: LayoutDOM | None = None
        self._failing = False
        # The snapshot of the last successful update. The poller replaces
        # the snapshot object on each poll, so the same object means no news.
        self._drawn_from: Snapshot | None = None

    @property
    def root(self) -> LayoutDOM:
        """Return the layout the page places: the notice above the body."""
        return column(self.notice, self.body, sizing_mode="stretch_width")

    def update(self, snapshot: Snapshot) -> None:
        """Redraw from the shared snapshot."""
        raise NotImplementedError

    async def fetch(self) -> None:
        """Fetch on-demand data before ``update``; most panels need none."""

    def say(self, text: str | None) -> None:
        """Show ``text`` above the plot, or hide the notice when None."""
        if text is None:
            if self.notice.visible:
                self.notice.visible = False
            return
        if self.notice.text != text:
            self.notice.text = text
        if not self.notice.visible:
            self.notice.visible = True

    def run(self, snapshot: Snapshot | None, error: str | None) -> None:
        """Update the panel, turning failures into its own notice."""
        if snapshot is None:
            self.say(error)
            return
        try:
            if self.name in getattr(settings, "CLUSTERDASH_PLOTS_FAILING", ()):
                raise RuntimeError(f"plot {self.name} was set to fail")
            self.update(snapshot)
        except Exception as exc:
            self._drawn_from = None
            self.fail(exc)
        else:
            self._drawn_from = snapshot
            if self._failing:
                self._failing = False
                logger.info("Plot %s updates again", self.name)

    async def refresh(self, snapshot: Snapshot | None, error: str | None) -> None:
        """
        Fetch on-demand data, then update; used by the periodic callback.

        A panel drawn only from the snapshot skips the update while the
        snapshot is the one it last drew, so ticks faster than the poll
        send the browser nothing.
        """
        fetches = type(self).fetch is not Panel.fetch
        if snapshot is not None and snapshot is self._drawn_from and not fetches:
            return
        if snapshot is not None:
            try:
                await self.fetch()
            except SchedulerUnavailable as exc:
                self.say(f"Cannot reach the scheduler at {exc.address}: {exc.reason}")
                return
            except Exception as exc:
                self.fail(exc)
                return
        self.run(snapshot, error)

    def fail(self, exc: BaseException) -> None:
        """Show ``exc`` in the panel's notice and log it, rate-limited."""
        self._failing = True
        self.say(f"This plot failed to update: {type(exc).__name__}: {exc}")
        log_failure(self.name, exc)


class SharedFetch:
    """
    One backend call shared by every session of the process.

    Sessions that ask within ``ttl`` seconds of the last call get its
    result, so the scheduler's cost does not grow with the number of
    viewers. Calls run in a thread, because backend methods block.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._results: dict[tuple, tuple[float, object]] = {}
        self._locks: dict[tuple, asyncio.Lock] = {}

    async def get(self, method: str, *args):
        """Return ``backend.<method>(*args)``, at most ``ttl`` seconds old."""
        key = (method, *args)
        # Locks belong to one event loop; tests run several loops in turn.
        loop_key = (id(asyncio.get_running_loop()), *key)
        lock = self._locks.setdefault(loop_key, asyncio.Lock())
        async with lock:
            cached = self._results.get(key)
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            function = getattr(get_backend(), method)
            value = await asyncio.to_thread(function, *args)
            self._results[key] = (time.monotonic(), value)
            return value


def log_failure(name: str, exc: BaseException) -> None:
    """Log a panel failure with its traceback, at most once a minute."""
    now = time.monotonic()
    last = _last_logged.get(name)
    if last is not None and now - last < ERROR_LOG_INTERVAL:
        return
    _last_logged[name] = now
    logger.error("Plot %s failed to update", name, exc_info=exc)


def install(doc: Document, panels: Iterable[Panel], title: str) -> None:
    """Add the periodic callbacks that feed ``panels`` to ``doc``."""
    doc.title = title
    by_interval: dict[float, list[Panel]] = {}
    for panel in panels:
        by_interval.setdefault(panel.interval, []).append(panel)
    for interval, group in by_interval.items():
        doc.add_periodic_callback(_ticker(doc, group), int(interval * 1000))


def _has_viewer(doc: Document) -> bool:
    """Return False for a server session that no websocket is connected to."""
    context = doc.session_context
    session = getattr(context, "_session", None) if context is not None else None
    return session is None or session.connection_count > 0


def _ticker(doc: Document, panels: list[Panel]):
    async def tick() -> None:
        if not _has_viewer(doc):
            # A page request without a websocket, or a closed tab that the
            # reaper has not discarded yet, costs the scheduler nothing.
            return
        backend = get_backend()
        try:
            snapshot = await backend.asnapshot()
            error = None
        except SchedulerUnavailable as exc:
            snapshot = None
            error = f"Cannot reach the scheduler at {exc.address}: {exc.reason}"
        for panel in panels:
            await panel.refresh(snapshot, error)

    return tick


#: The fetch cache of the on-demand plots.
SHARED = SharedFetch(ttl=0.9)
