from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Each worker's own pages, served by the site from data the backend fetches."""

    name = "workers"
