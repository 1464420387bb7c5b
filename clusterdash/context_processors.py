"""Template context shared by every page."""

from django.conf import settings


def site(request):
    """Add the navigation settings every page's header needs."""
    return {"staff_only": settings.CLUSTERDASH_STAFF_ONLY}
