"""Websocket routes of the info app, open to the viewer role."""

from django.urls import re_path

from clusterdash.access import VIEWER, WebsocketRoleMiddleware

from .consumers import EventStreamConsumer

websocket_urlpatterns = [
    re_path(
        r"^eventstream$", WebsocketRoleMiddleware(EventStreamConsumer.as_asgi(), VIEWER)
    ),
]
