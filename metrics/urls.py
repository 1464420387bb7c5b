from django.urls import path

from . import views

app_name = "metrics"

urlpatterns = [
    path("metrics", views.metrics, name="scheduler"),
    path("metrics/workers", views.worker_metrics, name="workers"),
]
