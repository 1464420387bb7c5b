"""Websocket routes of the Bokeh pages: ``<page>/ws``."""

from django.urls import re_path

from clusterdash.access import VIEWER, WebsocketRoleMiddleware

# Importing the catalog registers every application, so a websocket that
# arrives before the first page request (a tab reconnecting after a
# restart) finds its application.
from . import catalog  # noqa: F401
from .bokeh_server import PlotSocket

websocket_urlpatterns = [
    re_path(
        r"^(?P<app>[a-z0-9-]+)/ws$",
        WebsocketRoleMiddleware(PlotSocket.as_asgi(), VIEWER),
    ),
]
