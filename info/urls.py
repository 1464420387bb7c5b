"""
Routes of the ``/info`` pages and ``/json`` endpoints, with Dask's paths.

Worker addresses and task keys are captured with ``.*`` because Django has
already decoded ``%2F`` into ``/`` when it matches the path.
"""

from django.urls import path, re_path

from . import views

app_name = "info"

urlpatterns = [
    re_path(r"^info/?$", views.info_redirect, name="index"),
    path("info/main/workers.html", views.workers, name="workers"),
    path("info/main/exceptions.html", views.exceptions, name="exceptions"),
    path("info/main/logs.html", views.scheduler_logs, name="logs"),
    re_path(r"^info/worker/(.*)\.html$", views.worker, name="worker"),
    re_path(r"^info/task/(.*)\.html$", views.task, name="task"),
    re_path(
        r"^info/call-stacks/(.*)\.html$",
        views.worker_call_stacks,
        name="call-stacks",
    ),
    re_path(r"^info/call-stack/(.*)\.html$", views.task_call_stack, name="call-stack"),
    re_path(r"^info/logs/(.*)\.html$", views.worker_logs, name="worker-logs"),
    path("json/counts.json", views.counts, name="counts"),
    path("json/identity.json", views.identity, name="identity"),
    path("json/index.html", views.json_index, name="json-index"),
]
