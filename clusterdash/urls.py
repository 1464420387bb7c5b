"""
The site's URL map.

Paths keep Dask's shapes (``/info/worker/<address>.html``, ``/json/...``),
so links and tools written for Dask's dashboard keep working.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from . import views
from .proxy import PROXY_PATTERN, proxy_view

urlpatterns = [
    path("", views.root, name="root"),
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("sitemap.json", views.sitemap, name="sitemap"),
    path("", include("info.urls")),
    path("", include("plots.urls")),
    path("", include("metrics.urls")),
    path("", include("workers.urls")),
    re_path(PROXY_PATTERN, proxy_view, name="proxy"),
    # Django's auth routes without password reset, which needs outgoing mail.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
]
