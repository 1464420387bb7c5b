"""
ASGI entry point, served by daphne and by ``manage.py runserver``.

HTTP goes to Django; websockets whose Host and Origin pass
``SiteOriginValidator`` go to the Channels routes that the apps declare in
their ``routing`` modules.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clusterdash.settings")

# Django must be set up before the routing modules import models.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402

from .routing import websocket_urlpatterns  # noqa: E402
from .websocket_origin import SiteOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": SiteOriginValidator(
            CookieMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
