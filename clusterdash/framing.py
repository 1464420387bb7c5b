"""
Framing headers: the pages that other sites may show in frames.

Django's ``XFrameOptionsMiddleware`` sends ``X-Frame-Options: DENY`` on
every page. The individual plots, which JupyterLab's Dask extension shows
in iframes, opt out of it and send a ``frame-ancestors`` policy instead,
listing the site itself and ``CLUSTERDASH_ALLOWED_ORIGINS``.
"""

from __future__ import annotations

from django.conf import settings

#: Static pages that are individual plots too, relative to STATIC_ROOT.
FRAMED_STATIC_PAGES = {"individual-cluster-map.html"}


def frame_ancestors_policy() -> str:
    """Return the CSP that lets the site and the allowed origins frame a page."""
    origins = getattr(settings, "CLUSTERDASH_ALLOWED_ORIGINS", [])
    return "frame-ancestors " + " ".join(["'self'", *origins])


def add_static_headers(headers, path: str, url: str) -> None:
    """
    Add framing headers to a static file that whitenoise serves.

    Whitenoise returns static files before ``XFrameOptionsMiddleware``
    runs, so static HTML pages get their framing headers here: the policy above for the
    framed pages, ``DENY`` for any other HTML file.
    """
    if not url.endswith(".html"):
        return
    if url.rpartition("/")[2] in FRAMED_STATIC_PAGES:
        headers["Content-Security-Policy"] = frame_ancestors_policy()
    else:
        headers["X-Frame-Options"] = "DENY"
