"""
Routes of each worker's pages: ``/workers/<address>/<page>``.

The address may appear raw (``tcp://127.0.0.1:40000``) or percent-encoded
once or twice, as links from Dask's own pages carry it. Each plot page has
a ``.json`` twin that its script polls.
"""

from django.urls import re_path

from . import views
from .figures import PLOT_PAGES

app_name = "workers"

_ADDRESS = r"^workers/(?P<address>.+?)"

urlpatterns = [
    re_path(rf"{_ADDRESS}/$", views.index, name="index"),
    re_path(rf"{_ADDRESS}/health$", views.health, name="health"),
    re_path(rf"{_ADDRESS}/metrics$", views.metrics, name="metrics"),
    re_path(rf"{_ADDRESS}/sitemap\.json$", views.sitemap, name="sitemap"),
    re_path(rf"{_ADDRESS}/counters$", views.counters, name="counters"),
    re_path(rf"{_ADDRESS}/counters\.json$", views.counters_data, name="counters-data"),
]
for _page in PLOT_PAGES:
    urlpatterns += [
        re_path(
            rf"{_ADDRESS}/{_page}$",
            views.plot_page,
            {"page": _page},
            name=_page,
        ),
        re_path(
            rf"{_ADDRESS}/{_page}\.json$",
            views.plot_data,
            {"page": _page},
            name=f"{_page}-data",
        ),
    ]
