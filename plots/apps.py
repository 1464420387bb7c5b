from django.apps import AppConfig


class PlotsConfig(AppConfig):
    """Live Bokeh pages and the individual plots."""

    name = "plots"
