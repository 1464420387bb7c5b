"""Websocket routes of every app, gathered for the ASGI router."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from info.routing import websocket_urlpatterns as info_websocket_urlpatterns
from plots.routing import websocket_urlpatterns as plots_websocket_urlpatterns

from .proxy import websocket_urlpatterns as proxy_websocket_urlpatterns

#: Close code for a websocket path that no route serves, in the application
#: range (4000-4999) as 4000 plus HTTP's 404.
NO_ROUTE = 4404


class NoRouteConsumer(AsyncWebsocketConsumer):
    """Reject a handshake for a path that no route serves.

    Without it, Channels' router raises for an unknown path and daphne
    rejects the handshake with a 500 and logs a traceback. Closing before
    accepting makes daphne send a 403 instead.
    """

    async def connect(self) -> None:
        await self.close(code=NO_ROUTE)


websocket_urlpatterns: list = [
    *info_websocket_urlpatterns,
    *plots_websocket_urlpatterns,
    *proxy_websocket_urlpatterns(),
    re_path(r"", NoRouteConsumer.as_asgi()),
]
