from django.apps import AppConfig


class ClusterdashConfig(AppConfig):
    """The project app: backend, system checks and management commands."""

    name = "clusterdash"
    verbose_name = "clusterdash"

    def ready(self) -> None:
        # Registers the checks and the setting_changed receiver. Nothing here
        # may connect to a scheduler: runserver's reloader runs ready() in
        # its watcher process too.
        from . import checks  # noqa: F401
        from .backends import manager  # noqa: F401
