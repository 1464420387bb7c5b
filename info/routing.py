"""Websocket routes of the info app."""

from django.urls import re_path

from .consumers import EventStreamConsumer

websocket_urlpatterns = [
    re_path(r"^eventstream$", EventStreamConsumer.as_asgi()),
]
