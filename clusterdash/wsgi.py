"""WSGI entry point; live plots and /eventstream need the ASGI one."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clusterdash.settings")

application = get_wsgi_application()
