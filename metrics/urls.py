from django.urls import include, path

app_name = "metrics"

urlpatterns = [
    path("", include("django_prometheus.urls")),
]
