"""Run the demo workload against the configured Dask scheduler."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Keep a mix of demo tasks running on the Dask scheduler named by "
        "CLUSTERDASH_SCHEDULER (or --address) until Ctrl-C. The embedded "
        "cluster runs the same workload when CLUSTERDASH_DEMO=1."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--address",
            help="Scheduler address, for example tcp://127.0.0.1:8786 "
            "(default: the address in CLUSTERDASH_BACKEND, set by "
            "CLUSTERDASH_SCHEDULER).",
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=1.0,
            help="Seconds to wait between rounds of tasks (default: 1).",
        )

    def handle(self, *args, address: str | None, pause: float, **options):
        address = address or configured_address()
        if not address:
            raise CommandError(
                "No scheduler address is configured. Set CLUSTERDASH_SCHEDULER "
                "or pass --address; to run the demo on the embedded cluster, "
                "start the dashboard with CLUSTERDASH_DEMO=1 instead."
            )
        if pause < 0:
            raise CommandError(f"--pause must not be negative, not {pause:g}.")

        # Imported here so that `manage.py help` does not import distributed.
        from clusterdash.backends.dask.demo import run_until_interrupted

        self.stdout.write(f"Running the demo workload on {address}; Ctrl-C stops it.")
        rounds = run_until_interrupted(address, pause=pause)
        self.stdout.write(f"Stopped after {rounds} rounds.")


def configured_address() -> str:
    """Return the scheduler address of the configured backend, or ''."""
    config = getattr(settings, "CLUSTERDASH_BACKEND", None)
    if not isinstance(config, dict):
        return ""
    options = config.get("OPTIONS") or {}
    if not isinstance(options, dict):
        return ""
    return str(options.get("address") or "")
