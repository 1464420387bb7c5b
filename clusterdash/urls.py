"""
The site's URL map.

Paths keep Dask's shapes (``/info/worker/<address>.html``, ``/json/...``),
so links and tools written for Dask's dashboard keep working.
"""

from django.contrib import admin
from django.urls import include, path, re_path

from . import views
from .proxy import PROXY_PATTERN, proxy_view

urlpatterns = [
    path("", views.root, name="root"),
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("sitemap.json", views.sitemap, name="sitemap"),
    path("", include("info.urls")),
    path("", include("plots.urls")),
    path("", include("metrics.urls")),
    path("", include("workers.urls")),
    re_path(PROXY_PATTERN, proxy_view, name="proxy"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
