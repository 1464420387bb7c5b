"""
The site's URL map.

Paths keep Dask's shapes (``/info/worker/<address>.html``, ``/json/...``),
so links and tools written for Dask's dashboard keep working.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("info.urls")),
    path("", include("plots.urls")),
    path("", include("metrics.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
