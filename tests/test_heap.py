"""Freezing the startup heap, in a served process and in this one."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from django.test import override_settings

from clusterdash.backends.dask import DaskBackend
from clusterdash.heap import freeze_loaded_heap
from info import views as info_views

PROJECT = Path(__file__).resolve().parents[1]

#: Printed by a fresh interpreter that imports the ASGI application.
PROBE = """
import gc
import clusterdash.asgi
from distributed import Client
from info import views
tracked = {id(obj) for obj in gc.get_objects()}
print(gc.get_freeze_count(), len(tracked), id(Client) in tracked,
      id(views.workers) in tracked)
"""


def _probe(tmp_path: Path, **environment: str) -> list[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clusterdash.settings",
        "CLUSTERDASH_VAR_DIR": str(tmp_path),
        **environment,
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.split()


def test_served_application_freezes_what_it_loaded(tmp_path):
    frozen, tracked, client_tracked, view_tracked = _probe(tmp_path)

    # Django, Bokeh and distributed are well over 100,000 objects.
    assert int(frozen) > 100_000
    assert int(tracked) < int(frozen) / 10
    # The backend's library and the lazily imported views are frozen too.
    assert client_tracked == "False"
    assert view_tracked == "False"


def test_setting_turns_freezing_off(tmp_path):
    frozen, _, client_tracked, _ = _probe(tmp_path, CLUSTERDASH_FREEZE_HEAP="0")

    assert frozen == "0"
    assert client_tracked == "True"


def test_freeze_in_test_process():
    try:
        with override_settings(CLUSTERDASH_FREEZE_HEAP=True):
            frozen = freeze_loaded_heap()
        tracked = {id(obj) for obj in gc.get_objects()}
    finally:
        # The test settings leave this process's heap unfrozen.
        gc.unfreeze()

    assert frozen > 100_000
    assert id(DaskBackend) not in tracked
    assert id(info_views.workers) not in tracked


def test_nothing_frozen_while_off():
    assert freeze_loaded_heap() == 0
    assert gc.get_freeze_count() == 0
