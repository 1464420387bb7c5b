"""Websocket routes of every app, gathered for the ASGI router."""

from info.routing import websocket_urlpatterns as info_websocket_urlpatterns
from plots.routing import websocket_urlpatterns as plots_websocket_urlpatterns

from .proxy import websocket_urlpatterns as proxy_websocket_urlpatterns

websocket_urlpatterns: list = [
    *info_websocket_urlpatterns,
    *plots_websocket_urlpatterns,
    *proxy_websocket_urlpatterns(),
]
