from django.urls import path, re_path

from . import views
from .catalog import PAGES

app_name = "plots"

urlpatterns = [
    path("plots", views.index, name="index"),
    re_path(r"^hardware/?$", views.hardware, name="hardware"),
    path("individual-plots.json", views.individual_plots, name="individual-plots"),
    # Dask serves these paths with and without a trailing slash.
    re_path(
        r"^individual-(?P<name>[a-z0-9-]+)/?$", views.individual, name="individual"
    ),
]
urlpatterns += [
    re_path(rf"^{name}/?$", views.page_view(name), name=name) for name in PAGES
]
