"""
Bokeh server sessions inside the Django process, over Channels.

Django views create the Bokeh session and render the page themselves, so
every page goes through Django's middleware, templates and URL prefix. The
browser then opens ``<page>/ws``, which a bokeh-django websocket consumer
serves with three changes:

- a closed websocket detaches from its session instead of destroying it
  twice, and a reaper discards sessions without a connection, so closed
  tabs and page requests without a websocket leave no periodic callbacks;
- BokehJS comes from the site's own static files (``bokeh/static/...``);
- no Bokeh HTTP route exists, so plain HTTP always reaches Django.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.document import Document
from bokeh.embed.bundle import bundle_for_objs_and_resources
from bokeh.embed.elements import script_for_render_items
from bokeh.embed.util import RenderItem
from bokeh.resources import Resources
from bokeh.server.views.static_handler import StaticHandler
from bokeh.util.token import generate_jwt_token, generate_session_id
from bokeh_django.consumers import WSConsumer
from bokeh_django.routing import DjangoApplicationContext
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.templatetags.static import static
from tornado.ioloop import IOLoop

logger = logging.getLogger(__name__)

#: Seconds a session may stay without a websocket before it is discarded.
DEFAULT_SESSION_LIFETIME = 15.0

#: Seconds between two passes of the session reaper.
DEFAULT_REAPER_INTERVAL = 2.0

#: Seconds a session token stays valid for opening the websocket.
TOKEN_EXPIRATION = 300

#: Largest websocket message, in bytes, that a plot socket sends. daphne
#: refuses to send a message above its ``websocket_max_message_size``
#: (1 MiB by default in daphne 4.2) after the earlier frames of the same
#: Bokeh message went out, which leaves BokehJS out of step for good.
MAX_MESSAGE_BYTES = 1024 * 1024

#: Close code for a plot update too large to send: RFC 6455's 1009 ("message
#: too big") moved into the application range, because daphne lets
#: applications send only 1000 and 3000-4999. The page's live-update notice
#: reloads the page after it.
CLOSE_MESSAGE_TOO_BIG = 4009


@dataclass
class PlotApp:
    """One Bokeh application: a page or an individual plot."""

    #: URL name under ``plots:`` (or ``individual`` for individual plots).
    name: str
    #: Page heading and document title.
    title: str
    build: Callable[[Document], None]
    context: DjangoApplicationContext | None = None

    def application_context(self) -> DjangoApplicationContext:
        """Return the Bokeh application context, creating it on first use."""
        loop = IOLoop.current()
        if self.context is None or self.context._loop is not loop:
            # Sessions run their periodic callbacks on the serving event loop.
            # A server has one loop for its lifetime. A new loop (each test
            # of an async test suite has one) gets a new context, because
            # sessions bound to a closed loop can never run again.
            application = Application(FunctionHandler(self.build, trap_exceptions=True))
            self.context = DjangoApplicationContext(application, url=self.name)
            self.context._loop = loop
        return self.context


_apps: dict[str, PlotApp] = {}
_reaper: asyncio.Task | None = None


def register(app: PlotApp) -> PlotApp:
    """Add an application to the registry that the websocket route reads."""
    _apps[app.name] = app
    return app


def registered_apps() -> dict[str, PlotApp]:
    """Return every registered application by name."""
    return _apps


def session_count(name: str | None = None) -> int:
    """Return how many Bokeh sessions this process has, for one app or all."""
    apps = [_apps[name]] if name is not None else list(_apps.values())
    return sum(len(app.context._sessions) for app in apps if app.context is not None)


def bokeh_resources() -> Resources:
    """Return resources that load BokehJS from the site's static files."""
    # static() applies STATIC_URL and the script prefix, so the page works
    # behind a proxy that serves the site under a path.
    return Resources(
        mode="server",
        root_url=static("bokeh/"),
        path_versioner=StaticHandler.append_version,
    )


def embed_session(app: PlotApp, socket_path: str) -> dict[str, object]:
    """
    Return what the template embeds for a new Bokeh session of ``app``.

    The session itself is built when the page's websocket opens with the
    token made here, not now: a request that never opens the websocket (a
    crawler, a prefetch, a load test) costs no document and no periodic
    callbacks. ``socket_path`` is the page's own path with the script
    prefix, which BokehJS extends with ``/ws`` to open the websocket.
    """
    session_id = generate_session_id(secret_key=None, signed=False)
    token = generate_jwt_token(
        session_id, secret_key=None, signed=False, expiration=TOKEN_EXPIRATION
    )
    element_id = f"bokeh-root-{session_id[:12]}"
    render_items = [RenderItem(token=token, elementid=element_id, use_for_title=False)]
    bundle = bundle_for_objs_and_resources(None, bokeh_resources())
    script = script_for_render_items(
        {}, render_items, app_path=socket_path.rstrip("/"), absolute_url=None
    )
    return {
        "bokeh_js_urls": bundle.js_files,
        "bokeh_css_urls": bundle.css_files,
        "bokeh_js_raw": bundle.js_raw,
        "bokeh_element_id": element_id,
        "bokeh_script": script,
    }


def _ensure_reaper() -> None:
    global _reaper
    loop = asyncio.get_running_loop()
    if _reaper is None or _reaper.done() or _reaper.get_loop() is not loop:
        _reaper = loop.create_task(_reap_sessions())


async def _reap_sessions() -> None:
    """Discard sessions without a websocket, until none are left."""
    while True:
        # Read the settings on each pass, so a change applies without restart.
        lifetime = getattr(
            settings, "CLUSTERDASH_BOKEH_SESSION_LIFETIME", DEFAULT_SESSION_LIFETIME
        )
        interval = getattr(
            settings, "CLUSTERDASH_BOKEH_REAPER_INTERVAL", DEFAULT_REAPER_INTERVAL
        )
        await asyncio.sleep(interval)
        for app in list(_apps.values()):
            if app.context is None:
                continue
            try:
                await app.context._cleanup_sessions(int(lifetime * 1000))
            except Exception:
                logger.exception("Discarding unused sessions of %s failed", app.name)
        if session_count() == 0:
            # The next page request starts a new reaper.
            return


class PlotSocket(WSConsumer):
    """The Bokeh protocol websocket of one application."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._application_context = None

    @property
    def application_context(self) -> DjangoApplicationContext:
        name = self.scope["url_route"]["kwargs"]["app"]
        app = _apps.get(name)
        if app is None:
            raise LookupError(f"no Bokeh application named {name!r}")
        self._application_context = app.application_context()
        return self._application_context

    async def connect(self):
        name = self.scope["url_route"]["kwargs"]["app"]
        subprotocols = self.scope.get("subprotocols") or []
        if name not in _apps or len(subprotocols) != 2 or subprotocols[0] != "bokeh":
            await self.close()
            return
        # Resolve the context before the base class opens the session.
        self.application_context  # noqa: B018
        _ensure_reaper()
        await super().connect()

    async def _send_bokeh_message(self, message) -> int:
        """
        Send one Bokeh message, or close the socket if a frame is too large.

        A Bokeh message travels as several websocket messages (header,
        metadata, content, buffers). Checking them all before sending any
        keeps the browser's protocol reader in step: the page gets a close
        code it can act on instead of a half-sent message.
        """
        sizes = [
            len(message.header_json),
            len(message.metadata_json),
            len(message.content_json),
        ]
        for buffer in message._buffers:
            payload = buffer[1] if isinstance(buffer, tuple) else buffer.data
            sizes.append(memoryview(payload).nbytes)
        largest = max(sizes)
        if largest > MAX_MESSAGE_BYTES:
            logger.warning(
                "Closing plot socket %s: a %s message of %d bytes exceeds %d",
                self.scope.get("path", "?"),
                message.msgtype,
                largest,
                MAX_MESSAGE_BYTES,
            )
            await self.close(code=CLOSE_MESSAGE_TOO_BIG)
            return 0
        return await super()._send_bokeh_message(message)

    async def disconnect(self, close_code):
        connection = getattr(self, "connection", None)
        if connection is not None:
            # Detach only: the reaper discards the session once no
            # websocket is connected, which lets a reconnecting tab keep its document.
            connection.detach_session()
        await AsyncWebsocketConsumer.disconnect(self, close_code)
