from django.apps import AppConfig


class InfoConfig(AppConfig):
    """Server-rendered pages: workers, tasks, logs, call stacks and JSON."""

    name = "info"
