from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """The Prometheus endpoint with Dask's metric names."""

    name = "metrics"
