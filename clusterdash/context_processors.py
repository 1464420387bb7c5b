"""Template context shared by every page."""

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from .navigation import NAVIGATION


def navigation_links() -> list[dict[str, str]]:
    """Return the navigation entries whose URL names reverse, in order."""
    links = []
    for label, name in NAVIGATION:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        links.append({"label": label, "name": name, "url": url})
    return links


def site(request):
    """Add the navigation bar and the access setting every page needs."""
    current = getattr(getattr(request, "resolver_match", None), "view_name", None)
    return {
        "staff_only": settings.CLUSTERDASH_STAFF_ONLY,
        "navigation": navigation_links(),
        "current_view_name": current,
    }
