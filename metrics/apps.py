from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """The Prometheus endpoint with Dask's metric names."""

    name = "metrics"

    def ready(self) -> None:
        from .collector import register_collectors

        # The collectors contact the scheduler only when scraped.
        register_collectors()
