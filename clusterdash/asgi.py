"""
ASGI entry point, served by daphne and by ``manage.py runserver``.

HTTP goes to Django, except the liveness probe and authorized Prometheus
scrapes, which ``HealthProbe`` and ``MetricsEndpoint`` serve before
Django's middleware runs. Websockets whose Host and Origin pass
``SiteOriginValidator`` go to the Channels routes that the apps declare in
their ``routing`` modules, with the session's user resolved. Once all of
it is loaded, the heap is frozen (``heap.freeze_loaded_heap``).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clusterdash.settings")

# Django must be set up before the routing modules import models.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from metrics.asgi import MetricsEndpoint  # noqa: E402

from .access import session_auth_stack  # noqa: E402
from .heap import freeze_loaded_heap  # noqa: E402
from .probes import HealthProbe  # noqa: E402
from .routing import websocket_urlpatterns  # noqa: E402
from .websocket_origin import SiteOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": HealthProbe(MetricsEndpoint(django_application)),
        # The stack parses cookies (bokeh-django's consumer reads
        # scope["cookies"]), loads the session and sets scope["user"], which
        # every route's WebsocketRoleMiddleware checks.
        "websocket": SiteOriginValidator(
            session_auth_stack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Last, so that everything loaded above stays out of full collections.
freeze_loaded_heap()
